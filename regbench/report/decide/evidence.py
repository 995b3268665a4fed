"""Which evidence decides a recommendation: one documented ladder, strongest first (docs/recommend.md).

Per case, the first rung the case's runs have a value for decides:

1. **truth**: the error against the case's known transform (``--error``, ``error_mean`` by default), in the case's
   physical units, with the case's spatial tolerance;
2. **landmarks**: the landmark TRE (``tre_mean``), the same units and tolerance;
3. **labels**: one minus the mean Dice over the labels of the fixed label image (``1 − dice_mean``), with a tolerance
   of :data:`DICE_TOLERANCE` (one Dice point);
4. **simulated**: the truth error on the case's simulated instances (its companion case ``<name>-sim``: deformations
   of the user's own fixed image with an exact truth), never pooled with the real pair's own figures;
5. **truth-free**: the relative dense-metric gap (:func:`regbench.report.stats.across_instances.relative_gap`: 0 is the
   best dense value any successful run reached on the case, 1 no better than the start) with a tolerance of
   :data:`GAP_TOLERANCE`, and the spread of the returned transforms over seeds (:mod:`regbench.report.stats.stability`)
   in physical units: a strategy whose results spread more than the spatial tolerance is not recommended. Weaker
   evidence: a metric optimum need not be the right alignment.

Every value is "lower is better", so :func:`regbench.report.decide.recommend.recommend` ranks them all alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from regbench.report.decide.inputs import starts_of
from regbench.report.load.columns import Runs
from regbench.report.stats.across_instances import error_column, relative_gap

#: Labels: two strategies whose mean Dice differ by less than one Dice point are practically the same.
DICE_TOLERANCE = 0.01
#: Truth-free: a relative dense-metric gap within 2% of the start-to-best improvement counts as the best.
GAP_TOLERANCE = 0.02
#: The companion case that holds a case's simulated instances.
SIMULATED_SUFFIX = "-sim"
#: Where a user reads how to add stronger evidence.
EVIDENCE_DOCS = "docs/recommend.md#which-evidence-decides"

KINDS = ("truth", "landmarks", "labels", "simulated", "truth-free")


@dataclass
class Evidence:
    """What one case's recommendation is decided by: ``values`` per run of ``runs`` (lower is better), in ``unit``,
    and the tolerance within which two values count as practically the same."""

    kind: str  # one of KINDS
    column: str  # the record column the values come from (or a derived name: "1-dice_mean", "relative_gap")
    runs: Runs  # the runs judged: the case's own, or its simulated companion's
    values: np.ndarray
    tolerance: float
    tolerance_note: str
    labels: int | None = None  # labels compared (kind labels)
    companion: str | None = None  # the simulated case whose runs decide (kind simulated)
    simulated_from: str | None = None  # the real case its instances are made from (kind simulated)
    real_pair: bool = False  # the answer is for the real pair, judged by its simulated companion
    spread: bool = False  # truth-free: the spread over seeds was measured (set by the recommendation)
    notes: list[str] = field(default_factory=list)
    # the same measure at each run's start (NaN: unknown), for the progress a strategy made
    initial: np.ndarray | None = None

    @property
    def weak(self) -> bool:
        return self.kind == "truth-free"

    def decided_by(self, instances: int) -> str:
        """The words a verdict opens with, e.g. "decided by Dice over 38 labels on 5 instances"."""
        on = f"{instances} instance{'s' if instances != 1 else ''}"
        if self.kind == "truth":
            return f"decided by the error against the known truth ({self.column}) on {on}"
        if self.kind == "landmarks":
            return f"decided by the landmark TRE ({self.column}) on {on}"
        if self.kind == "labels":
            count = f" over {self.labels} label{'s' if self.labels != 1 else ''}" if self.labels else ""
            return f"decided by Dice{count} on {on} (no truth or landmarks)"
        if self.kind == "simulated":
            return (
                f"decided by the error against the exact truth ({self.column}) on {instances} simulated "
                f"deformation{'s' if instances != 1 else ''} of {self.simulated_from}'s fixed image (case "
                f"{self.companion})" + ("; the real pair has no truth, landmarks or labels" if self.real_pair else "")
            )
        metric = "the dense metric relative to the best run" + (" and the spread over seeds" if self.spread else "")
        if self.column == "relative_metric":
            metric += " (no run improved on the start: the metric relative to the best value, not to the start)"
        return (
            f"no truth, landmarks or labels: decided by {metric} on {on}, which is weaker evidence; add labels or "
            f"simulated instances ({EVIDENCE_DOCS})"
        )


def case_evidence(
    case: str,
    runs: Runs,
    all_runs: Runs | None = None,
    error: str = "error_mean",
    tolerance: tuple[float, str] = (0.5, "default"),
    companion_tolerance: tuple[float, str] | None = None,
) -> Evidence:
    """The strongest evidence ``case``'s runs (``runs``) have, by the ladder of this module. ``all_runs`` (every
    run of the report) is searched for the simulated companion; ``tolerance`` is the case's spatial tolerance
    (value, where it came from) and ``companion_tolerance`` the companion's."""
    column = error_column(runs, error)
    if np.isfinite(column.values).any():
        name = column.measure
        source = next((str(s) for s in runs["simulated_from"].tolist() if s), None)
        start = starts_of(runs, name)
        if source is not None:  # a simulated case asked for on its own: its truth is a simulation's
            return Evidence(
                "simulated",
                name,
                runs,
                column.values,
                *tolerance,
                companion=case,
                simulated_from=source,
                initial=start,
            )
        kind = "landmarks" if name.startswith("tre") else "truth"
        return Evidence(kind, name, runs, column.values, *tolerance, initial=start)
    dice = runs["dice_mean"]
    if np.isfinite(dice).any():
        labels = runs["label_count"]
        count = int(np.nanmedian(labels)) if np.isfinite(labels).any() else None
        return Evidence(
            "labels",
            "1-dice_mean",
            runs,
            1.0 - dice,
            DICE_TOLERANCE,
            "one Dice point",
            labels=count,
            initial=1.0 - runs["initial_dice_mean"],
        )
    if all_runs is not None:
        companion = case + SIMULATED_SUFFIX
        mine = all_runs["case"] == companion
        if mine.any():
            sim = all_runs.subset(mine)
            column = error_column(sim, error)
            if np.isfinite(column.values).any():
                tol = companion_tolerance or tolerance
                name = column.measure
                return Evidence(
                    "simulated",
                    name,
                    sim,
                    column.values,
                    *tol,
                    companion=companion,
                    simulated_from=case,
                    real_pair=True,
                    initial=starts_of(sim, name),
                )
    gap = relative_gap(runs)
    if not np.isfinite(gap).any() and np.isfinite(runs["final_metric_dense"]).any():
        # no run improved on the start (an aligned pair, or every run failed): no start-to-best gap exists, so
        # the metric is put on the scale of the best value itself
        dense = runs["final_metric_dense"]
        best = np.nanmin(np.where(np.isfinite(dense), dense, np.nan))
        with np.errstate(all="ignore"):
            relative = (dense - best) / max(abs(best), np.finfo(float).tiny)
        return Evidence("truth-free", "relative_metric", runs, relative, GAP_TOLERANCE, "a fraction of the best value")
    # the gap is 1 at the start by its definition
    return Evidence(
        "truth-free",
        "relative_gap",
        runs,
        gap,
        GAP_TOLERANCE,
        "a fraction of the start-to-best gap of the dense metric",
        initial=np.where(np.isfinite(gap), 1.0, np.nan),
    )
