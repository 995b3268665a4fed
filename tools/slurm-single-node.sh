#!/usr/bin/env bash
# A single-node SLURM on this machine, for tests/test_cluster_slurm.py and for trying `regbench run --cluster slurm`:
# munged, a controller (slurmctld) and a node (slurmd), all on localhost, run as root, without accounting or
# cgroups. Needs Debian's packages: apt-get install -y slurm-wlm munge.
#
#   tools/slurm-single-node.sh start [DIR]   write DIR/slurm.conf, start the daemons, wait until the node is idle
#   tools/slurm-single-node.sh stop [DIR]    stop the daemons this script started (by their pid files)
#
# DIR (default /tmp/regbench-slurm) holds the configuration, the state, the spool, the logs and the pid files;
# nothing is written to /etc. The SLURM commands find this configuration through SLURM_CONF: `start` prints the
# line to export as its last line of output. Exit status: 0 when the node is idle, 1 otherwise (the logs' tails
# say why).
set -euo pipefail

action="${1:-start}"
dir="$(realpath -m "${2:-/tmp/regbench-slurm}")"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

fail() { echo "slurm-single-node: $*" >&2; exit 1; }

stop() {
    for name in slurmd slurmctld; do
        if [ -s "$dir/$name.pid" ]; then kill "$(cat "$dir/$name.pid")" 2>/dev/null || true; fi
    done
    if [ -s "$dir/munged.pid" ]; then kill "$(cat "$dir/munged.pid")" 2>/dev/null || true; fi
    if [ -s "$dir/munge-dir" ]; then rm -rf "$(cat "$dir/munge-dir")"; fi
    rm -f "$dir/munged.pid" "$dir/munge-dir"
}

if [ "$action" = stop ]; then stop; exit 0; fi
[ "$action" = start ] || fail "unknown action '$action': start or stop"
[ "$(id -u)" -eq 0 ] || fail "needs root (slurmd starts jobs as their users; munged runs as the munge user)"
for command in munged slurmctld slurmd sinfo sbatch; do
    command -v "$command" >/dev/null || fail "$command not found: apt-get install -y slurm-wlm munge"
done

mkdir -p "$dir/state" "$dir/spool"
stop  # a previous start of this script in the same DIR

# munge: a key made by the package (or here); its socket, log and pid in a directory of its own that the munge
# user can reach (DIR may sit below one only root may enter, like pytest's), so a system munged is left alone.
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile /etc/munge/munge.key
munge="$(mktemp -d /tmp/regbench-munge.XXXXXX)"
echo "$munge" > "$dir/munge-dir"
chmod 0755 "$munge"  # munged: clients must reach the socket
chown -R munge:munge "$munge" /etc/munge
socket="$munge/munge.socket"
runuser -u munge -- munged --socket "$socket" --pid-file "$munge/munged.pid" \
    --log-file "$munge/munged.log" --seed-file "$munge/munged.seed"
cp "$munge/munged.pid" "$dir/munged.pid"

# The node as slurmd sees it (CPUs, sockets, cores, memory), named localhost: a node declared bigger than it is
# would be drained ("Low RealMemory").
hardware="$(slurmd -C | head -n 1 | sed -e 's/^NodeName=[^ ]* //')"
cat > "$conf" <<EOF
# Written by tools/slurm-single-node.sh: one controller and one node on localhost.
ClusterName=regbench
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -f "$conf" -i  # -i: ignore a stale state from an earlier start
slurmd -f "$conf" -N localhost

for _ in $(seq 1 60); do
    state="$(sinfo --noheader --nodes localhost --format %t 2>/dev/null || true)"
    if [ "$state" = idle ]; then
        echo "slurm-single-node: node localhost idle (partition debug), configuration $conf"
        echo "export SLURM_CONF=$conf"
        exit 0
    fi
    sleep 1
done
echo "slurm-single-node: the node did not become idle in 60 s (sinfo: '${state:-no answer}'); the logs end with:" >&2
tail -n 5 "$dir/slurmctld.log" "$dir/slurmd.log" "$munge/munged.log" >&2 2>/dev/null || true
exit 1
