"""Every hook regbench calls, grouped by phase.

Plugins implement these with the ``regbench.hookimpl`` marker. Hookimpl arguments have no defaults; a plugin may
accept any subset of a hook's arguments, by name.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("regbench")
hookimpl = pluggy.HookimplMarker("regbench")


# -- discovery: called once per plugin manager ---------------------------------------------------------------


@hookspec
def regbench_register_strategies(register):
    """Register optimization strategies.

    Called once, for every plugin, the first time a plugin manager lists its strategies. Call
    ``register(strategy)`` for each :class:`regbench.Strategy` instance. Variants are instances with other
    defaults, not subclasses. Registering a name another plugin already registered raises ``PluginError``
    naming both plugins.

    Example::

        @regbench.hookimpl
        def regbench_register_strategies(register):
            register(MyGradientDescent("my-gd", learning_rate=0.5))
    """


@hookspec
def regbench_register_cases(register):
    """Register registration problems (cases).

    Called once, for every plugin, the first time a plugin manager lists its cases. Call ``register(case)``
    for each :class:`regbench.Case`. A case loads its images lazily, so registering one is cheap. A case whose
    data is missing is still registered, with ``unavailable="how to get it"``: ``regbench list`` shows the
    hint and the runner refuses to select it.

    Example::

        @regbench.hookimpl
        def regbench_register_cases(register):
            register(Case("lung-pair", loader=load_lung_pair, setup=Setup(transform="affine")))
    """


# -- during a run --------------------------------------------------------------------------------------------


@hookspec
def regbench_record_iteration(run, event):
    """Observe one optimizer iteration.

    Called for every plugin at every ``sitkIterationEvent`` of every execution, after the harness stored the
    sample. ``run`` is the :class:`regbench.harness.RunContext`; ``event`` the
    :class:`regbench.record.IterationEvent` just recorded (segment, level, iteration, metric, learning rate,
    convergence value). Keep it cheap: it runs inside the optimizer loop. The return value is ignored.

    Example::

        @regbench.hookimpl
        def regbench_record_iteration(run, event):
            live_plot.append(event.metric)
    """


@hookspec(firstresult=True)
def regbench_classify_stop(text, segment):
    """Map an optimizer's stop-condition text to a stop category.

    Stops at the first non-None result. The built-in classifier is registered ``trylast`` so any plugin can
    refine or override it (e.g. for an optimizer from a newer ITK). Return one of the categories in
    ``regbench.stops.CATEGORIES`` or None to defer. ``segment`` is the :class:`regbench.record.Segment` the
    text came from, or None when classifying a bare text.

    Example::

        @regbench.hookimpl
        def regbench_classify_stop(text):
            if text.startswith("MyOptimizer: budget spent"):
                return "max_iterations"
    """


# -- after a run ---------------------------------------------------------------------------------------------


@hookspec
def regbench_evaluate(case, transform, record):
    """Measure a run's returned transform.

    Called for every plugin once per successful run, after the strategy returned. ``case`` is the
    :class:`regbench.Case` (its images via ``case.load()``), ``transform`` the returned SimpleITK transform
    mapping fixed-space points to moving space, ``record`` the :class:`regbench.RunRecord` so far. Return a
    dict of measures, or None. Keys that name a ``RunRecord`` field (``final_metric_dense``, ``error_mean``,
    ...) fill that field; other keys go to ``record.measures``. Values must be JSON numbers, strings, bools
    or None.

    Example::

        @regbench.hookimpl
        def regbench_evaluate(case, transform, record):
            return {"dice_liver": dice(case, transform)}
    """


@hookspec
def regbench_run_finished(record):
    """Observe a finished run record.

    Called for every plugin once per run, after evaluation and outcome judgement, whatever the status
    (``ok``, ``error``, ``crashed``, ``timeout``). Use it to forward records to an external tracker. The
    return value is ignored; an exception here is reported but does not lose the record.

    Example::

        @regbench.hookimpl
        def regbench_run_finished(record):
            mlflow.log_metrics({"error_mean": record.error_mean})
    """
