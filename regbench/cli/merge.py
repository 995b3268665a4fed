"""``regbench merge OUT STORE...``: result stores from several machines in one (:mod:`regbench.store.merge`)."""

from __future__ import annotations

import dataclasses

import click

from regbench.cli.common import echo_json
from regbench.store.merge import InputResult, MergeError, MergeFailed, merge
from regbench.store.sqlite import Store, StoreError, StoreFull
from regbench.util.console import visible

#: Lines of left-out rows printed per input; the rest are counted.
SHOWN = 5


@click.command("merge")
@click.argument("out", type=click.Path(dir_okay=False))
@click.argument("stores", nargs=-1, required=True, type=click.Path(), metavar="STORE...")
@click.option("--json", "as_json", is_flag=True, help="Print what each input added as JSON.")
def merge_command(out: str, stores: tuple[str, ...], as_json: bool) -> None:
    """Merge the result stores STORE... (from several machines, say) into OUT, by run key.

    \b
    A run OUT lacks is added; the same run again (the same record but for its
    times and host) is stored once; the same key with a different record is
    kept beside the other as a repeat, never over it, and listed here
    (`regbench report --store OUT` compares the hosts). Runs in flight (leases)
    are left out. Inputs are read only; merging the same stores again changes
    nothing.

    A missing file, a file that is not a result store, or a store of a newer
    regbench is a usage error (exit 2) naming it; nothing is written then.
    """
    try:
        results = merge(out, stores)
    except (StoreFull, MergeFailed) as exc:  # not a usage error: exit 1
        raise click.ClickException(str(exc)) from exc
    except (MergeError, StoreError) as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        echo_json([_as_dict(r) for r in results])
        return
    for result in results:
        _print(result)
    with Store.read_only(out) as store:
        total = len(store)
    added = sum(r.changed for r in results)
    tail = f"{added} rows added" if added else "nothing new: it already held every run of them"
    click.echo(f"{visible(out)}: {total} runs; {tail}")


def _print(result: InputResult) -> None:
    parts = [f"{result.added} added", f"{result.identical} already there"]
    if result.drifted:
        parts.append(f"{len(result.drifted)} kept as repeats (same key, different record)")
    if result.races or result.replaced:
        parts.append(f"{result.races} race logs and {result.replaced} replaced records carried over")
    if result.calibrations:
        parts.append(f"{result.calibrations} host calibrations carried over")
    click.echo(f"{visible(str(result.path))}: {result.runs} finished runs: {', '.join(parts)}")
    for d in result.drifted:
        host, other = (f"host {h}" if h else "a host not recorded" for h in (d.host, d.other_host))
        click.echo(
            visible(
                f"  same key, different record: {d.strategy} on {d.case}, seed {d.seed} (run {d.key}): the record "
                f"from {host} kept as repeat {d.repeat} (key {d.stored_as}) beside the one from {other}"
            )
        )
    for line in result.skipped[:SHOWN]:
        click.echo(visible(f"  left out: {line}"))
    if len(result.skipped) > SHOWN:
        click.echo(f"  left out: {len(result.skipped) - SHOWN} more")


def _as_dict(result: InputResult) -> dict[str, object]:
    return {**dataclasses.asdict(result), "path": str(result.path)}
