"""How to repeat one run, for ``regbench show``: whether its record is reproducible bit for bit, and the
``regbench run`` command (from the record's provenance) with what it needs that the record cannot say.
"""

from __future__ import annotations

import re
import shlex

from regbench.record import RunRecord

_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def reproducibility_text(record: RunRecord) -> str:
    """What the record's ``deterministic`` says about repeating it; never claims more than is known."""
    threads = f"{record.threads} ITK thread" + ("" if record.threads == 1 else "s")
    setting = f"seed {record.seed}, metric sampling seed {record.sampling_seed}, {threads}"
    if record.deterministic is True:
        return f"{setting}: same inputs, same threads and same software versions give the same record."
    if record.deterministic is False:
        return (
            f"{setting}: NOT reproducible bit for bit. This metric sums its joint histogram in thread order with "
            "more than one ITK thread, so the same key can give another record (iterations, error). "
            "`regbench run --repeat K` measures how much it moves; `--threads 1` makes it bit-identical."
        )
    return (
        f"{setting}: whether repeating this run gives the same record is not known for this metric and thread "
        "count (with one ITK thread it does)."
    )


def reproduce_command(record: RunRecord) -> tuple[str, list[str]]:
    """The ``regbench run`` command that repeats the run, and what it needs that the record cannot say.

    From the provenance: a strategy or case whose plugin has no distribution came from a module given with
    ``--plugin``; a case with no plugin at all came from a user case file (``--cases``). The command runs in a
    worker process of its own, as every ``regbench run`` does, so a run that crashed or hung is recorded as
    ``crashed`` or ``timeout`` again instead of taking regbench down; a timed-out run keeps its time limit.
    """
    parts = ["regbench", "run", "-s", record.strategy, "-c", record.case, "--seed", str(record.seed)]
    needs: list[str] = []
    provenance = record.provenance or {}
    modules = []
    for kind in ("strategy", "case"):
        origin = provenance.get(kind)
        if not isinstance(origin, dict) or origin.get("distribution") or not origin.get("plugin"):
            continue
        module = str(origin["plugin"])
        if _MODULE_NAME.fullmatch(module):
            modules.append(module)
        else:
            needs.append(f"the {kind} comes from plugin {module!r}, registered in code: register it the same way")
    for module in dict.fromkeys(modules):
        parts += ["--plugin", module]
    case_origin = provenance.get("case", False)
    if isinstance(provenance.get("case_file"), str) and provenance["case_file"]:
        parts += ["--cases", provenance["case_file"]]  # relative to the directory the run was started in
    elif isinstance(case_origin, dict) and case_origin.get("file"):
        parts += ["--cases", str(case_origin["file"])]
    elif "case" in provenance and case_origin is None:
        parts += ["--cases", "FILE"]
        needs.append(
            f"FILE: the TOML case file that defines case {record.case!r} (a user case; the record does not keep "
            "the file's path)"
        )
    if record.threads:
        parts += ["--threads", str(record.threads)]
    limit = re.search(r"timeout of ([0-9.e+]+) s", record.error or "") if record.status == "timeout" else None
    if limit:
        parts += ["--timeout", limit.group(1)]
    for name, value in sorted(record.params.items()):
        parts += ["-p", f"{name}={value}"]
    return shlex.join(parts), needs
