"""Diagnostics every successful run's record carries: this SimpleITK's probed optimizer semantics (measured once
per version and cached) in its provenance, a note when the strategy's declared ``metric_pairing`` disagrees with
them for the optimizer that ran, and the case's gradient-audit warning when one is known. After the run, on the
``regbench_run_finished`` hook, first among its implementations so every other one sees them; the run itself
never imports the probe. A built-in plugin kept inside regbench (as pytest keeps its own): the probe and the
gradient audit it reads are not public API."""

from __future__ import annotations

from regbench.diagnostics import gradient_audit, probe
from regbench.harness import RunContext
from regbench.hookspecs import hookimpl
from regbench.record import RunRecord


@hookimpl(tryfirst=True)
def regbench_run_finished(record: RunRecord, run: RunContext | None) -> None:
    if run is None or record.status != "ok":
        return
    try:
        families = run.pm.probe_families()
        result = probe.semantics(run.pm)
    except Exception as exc:  # a probe that cannot run must not fail the run
        record.provenance["semantics"] = {"error": f"{type(exc).__name__}: {exc}"}
    else:
        record.provenance["semantics"] = probe.as_provenance(result)
        stops = [segment.stop_condition for segment in record.segments]
        note = probe.pairing_note(run.metric_pairing, stops, result, families)
        if note and note not in record.notes:
            record.notes.append(note)
    warning = gradient_audit.case_warning(run.case)
    if warning:
        record.provenance["gradient_warning"] = warning
