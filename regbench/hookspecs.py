"""Every hook regbench calls, grouped by phase.

Plugins implement these with the ``regbench.hookimpl`` marker. Hookimpl arguments have no defaults; a plugin may
accept any subset of a hook's arguments, by name. Every hook is called through pluggy: implementations run in
pluggy's order (the last registered first; ``tryfirst``/``trylast`` move one to the front or the back) and
wrappers (``@regbench.hookimpl(wrapper=True)``, a generator that yields once) run around the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import SimpleITK as sitk

    from regbench.cases.case import Case
    from regbench.harness import RunContext
    from regbench.record import IterationEvent, RunRecord, Segment
    from regbench.strategy import ProbeFamily, Strategy

hookspec = pluggy.HookspecMarker("regbench")
hookimpl = pluggy.HookimplMarker("regbench")


# -- discovery: called once per plugin manager ---------------------------------------------------------------


@hookspec
def regbench_register_strategies(register: Callable[[Strategy], None]) -> None:
    """Register optimization strategies.

    Called once, for every plugin, the first time a plugin manager lists its strategies. Call
    ``register(strategy)`` for each :class:`regbench.Strategy` instance, during the call. Variants are instances
    with other defaults, not subclasses. Names use letters, digits and ``. _ + -``. Registering a name that is
    taken, an invalid name or something that is not a ``Strategy`` (e.g. the class instead of an instance), or
    raising, makes the plugin *broken*: it is left out and reported with its distribution and how to skip it.

    Example::

        @regbench.hookimpl
        def regbench_register_strategies(register):
            register(MyGradientDescent("my-gd", learning_rate=0.5))
    """


@hookspec
def regbench_register_cases(register: Callable[[Case], None]) -> None:
    """Register registration problems (cases).

    Called once, for every plugin, the first time a plugin manager lists its cases. Call ``register(case)``
    for each :class:`regbench.Case`. A case loads its images lazily, so registering one is cheap. A case whose
    data is missing is still registered, with ``unavailable="how to get it"``: ``regbench list`` shows the
    hint and the runner refuses to select it. The rules on names and failures are those of strategies.

    Example::

        @regbench.hookimpl
        def regbench_register_cases(register):
            register(Case("lung-pair", loader=load_lung_pair, setup=Setup(transform="affine")))
    """


# -- during a run --------------------------------------------------------------------------------------------


@hookspec
def regbench_record_iteration(run: RunContext, event: IterationEvent) -> None:
    """Observe one optimizer iteration.

    Called for every plugin at every ``sitkIterationEvent`` of every execution, after the harness stored the
    sample; for an execution another engine made (``ctx.record_external``), once per iteration it reported, after
    the fact. ``run`` is the :class:`regbench.RunContext`; ``event`` the :class:`regbench.IterationEvent` just
    recorded (segment, level, iteration, metric, learning rate, convergence value). Keep it cheap: it runs inside
    the optimizer loop, in the worker process of the run. The return value is ignored; an exception ends the
    execution as an error naming the plugin.

    Example::

        @regbench.hookimpl
        def regbench_record_iteration(run, event):
            live_plot.append(event.metric)
    """


@hookspec(firstresult=True)
def regbench_classify_stop(text: str, segment: Segment | None) -> str | None:
    """Map an optimizer's stop-condition text to a stop category.

    Stops at the first non-None result. The built-in classifier is registered ``trylast`` so any plugin can
    refine or override it (e.g. for an optimizer from a newer ITK). Return one of the categories in
    ``regbench.STOP_CATEGORIES`` or None to defer; any other answer is recorded as ``unknown`` with a note.
    ``segment`` is the :class:`regbench.Segment` the text came from, or None when classifying a bare text.

    Example::

        @regbench.hookimpl
        def regbench_classify_stop(text):
            if text.startswith("MyOptimizer: budget spent"):
                return "max_iterations"
    """


# -- after a run ---------------------------------------------------------------------------------------------


@hookspec
def regbench_evaluate(case: Case, transform: sitk.Transform, record: RunRecord) -> Mapping[str, Any] | None:
    """Measure a run's returned transform.

    Called for every plugin once per run whose strategy returned a transform, in the run's worker process.
    ``case`` is the :class:`regbench.Case` (its images via ``case.load()``), ``transform`` the returned
    SimpleITK transform mapping fixed-space points to moving space (the case's initial transform composed in),
    ``record`` the :class:`regbench.RunRecord` so far. Return a dict of measures, or None. Keys in
    ``regbench.MEASURE_FIELDS`` (``final_metric_dense``, ``error_mean``, ...) fill that record field; a key that
    names any other record field (``key``, ``strategy``, ``seed``, ``status``...) is refused with a note; other
    keys, and the items of a ``"measures"`` dict, go to ``record.measures``. Values must be JSON numbers,
    strings, bools or None. An implementation that raises is noted and the call is repeated without it, so
    keep evaluations free of side effects.

    Example::

        @regbench.hookimpl
        def regbench_evaluate(case, transform, record):
            return {"dice_liver": dice(case, transform)}
    """


@hookspec
def regbench_run_finished(record: RunRecord, run: RunContext | None) -> None:
    """Observe a finished run record.

    Called for every plugin once per run, after evaluation and outcome judgement, whatever the status: ``ok``
    and ``error`` records in the run's worker process, with ``run`` the :class:`regbench.RunContext` the strategy
    drove (None where the run failed before it had one); ``crashed`` and ``timeout`` ones (whose worker died) in
    the process that ran the matrix, with ``run`` None. Use it to forward records to an external tracker (name only
    the arguments you need). The return value is ignored; an exception is noted in the record, which is kept.

    Example::

        @regbench.hookimpl
        def regbench_run_finished(record):
            mlflow.log_metrics({"error_mean": record.error_mean})
    """


# -- the semantics probe: discovery, called the first time a manager's probe families are listed ---------------


@hookspec
def regbench_register_probe_families(register: Callable[[ProbeFamily], None]) -> None:
    """Register optimizer families for the semantics probe.

    Called once, for every plugin, the first time a plugin manager lists its probe families (``regbench list``,
    the start of ``regbench run``, after a run when its record gets the probed semantics). Call
    ``register(family)`` for each :class:`regbench.ProbeFamily`: its name, ``configure(method)`` that sets the
    optimizer on the probe's method, and how its stop-condition texts start (``stop_prefix``, or ``stop_pattern``
    for an optimizer whose texts have no class prefix). The probe measures each family once per SimpleITK
    version (event-value pairing, whether ``StopRegistration`` is honoured, runs per level) and a record names the
    family that ran from its stop texts. The rules on names and failures are those of strategies; a family whose
    ``configure`` raises when it is made is refused with its plugin, one that fails only in the probe gets an
    ``error`` there.

    Example (``configure_exhaustive(method)`` is the plugin's own function that sets its optimizer)::

        @regbench.hookimpl
        def regbench_register_probe_families(register):
            register(ProbeFamily("exhaustive", configure_exhaustive, stop_prefix="ExhaustiveOptimizerv4"))
    """
