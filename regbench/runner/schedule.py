"""The order runs start in: longest expected first, the expectation learning from every run that finishes.

A matrix's wall time is at best the sum of its run times ÷ the workers; what keeps it from that is a long run
started last, with the other cores idle until it ends. Starting the longest runs first (LPT scheduling) leaves
only short runs for the end. A run's expected time comes from, in order:

1. runs of the same strategy, case and parameters already timed (in the store, or earlier in this matrix);
2. otherwise a model fitted to every timed run: log time = overall + strategy effect + case effect (shrunk
   towards 0 for effects seen a few times), so one strategy's runs on other cases, and other strategies' runs on
   this case, say how long it will take;
3. scaled by the strategy's iteration cap (``Strategy.iteration_cap_param``) against the runs it learns from:
   a cap is the one figure that bounds an optimizer's work before it runs.

With nothing timed yet, the first runs started are spread over strategies and cases (round robin), so the model
learns each effect early. Nothing here changes what a run computes, only when it starts.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from regbench.util.strict_json import dumps

#: How many observations an effect needs before it counts fully: effect × n / (n + SHRINK).
SHRINK = 1.0
#: Alternating passes of the additive fit (it converges in a few on these small, nearly balanced tables).
FIT_PASSES = 8


class Timed(Protocol):
    """What the scheduler reads of a run spec or a finished record."""

    @property
    def strategy(self) -> str: ...

    @property
    def case(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Observation:
    strategy: str
    case: str
    params: str  # canonical JSON of the parameters
    cap: float | None  # the iteration cap's value, if the strategy declares one
    seconds: float


#: The iteration cap of a (strategy, params) pair, or None when the strategy declares none.
CapOf = Callable[[str, Mapping[str, Any]], "float | None"]


def no_caps(strategy: str, params: Mapping[str, Any]) -> float | None:
    return None


def caps_from(iteration_cap_params: Mapping[str, str | None]) -> CapOf:
    """A :data:`CapOf` from each strategy's ``iteration_cap_param`` (name → parameter name or None)."""

    def cap(strategy: str, params: Mapping[str, Any]) -> float | None:
        name = iteration_cap_params.get(strategy)
        value = params.get(name) if name else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            return None
        return float(value)

    return cap


def _params_key(params: Mapping[str, Any]) -> str:
    return dumps(dict(params), sort_keys=True)


@dataclass
class RuntimeModel:
    """Expected run times, from the runs timed so far."""

    cap_of: CapOf = no_caps
    observations: list[Observation] = field(default_factory=list)
    _fit: tuple[float, dict[str, float], dict[str, float]] | None = field(default=None, init=False, repr=False)
    _exact: dict[tuple[str, str, str], list[float]] = field(default_factory=dict, init=False, repr=False)
    _pair: dict[tuple[str, str], list[Observation]] = field(default_factory=dict, init=False, repr=False)

    def observe(self, strategy: str, case: str, params: Mapping[str, Any], seconds: float | None) -> None:
        if seconds is None or not math.isfinite(seconds) or seconds <= 0:
            return
        obs = Observation(strategy, case, _params_key(params), self.cap_of(strategy, params), float(seconds))
        self.observations.append(obs)
        self._exact.setdefault((strategy, case, obs.params), []).append(obs.seconds)
        self._pair.setdefault((strategy, case), []).append(obs)
        self._fit = None

    def observe_run(self, run: Timed, seconds: float | None) -> None:
        self.observe(run.strategy, run.case, run.params, seconds)

    def expected(self, run: Timed) -> float | None:
        """Seconds this run is expected to take, or None with nothing timed yet."""
        if not self.observations:
            return None
        params = _params_key(run.params)
        exact = self._exact.get((run.strategy, run.case, params))
        if exact:
            return statistics.median(exact)
        cap = self.cap_of(run.strategy, run.params)
        same_pair = self._pair.get((run.strategy, run.case))
        if same_pair:  # other parameters of the same strategy on the same case
            return statistics.median(_scaled(o, cap) for o in same_pair)
        overall, by_strategy, by_case = self._fitted()
        log_t = overall + by_strategy.get(run.strategy, 0.0) + by_case.get(run.case, 0.0)
        ratio = self._cap_ratio(run.strategy, cap)
        return math.exp(log_t) * ratio

    def _cap_ratio(self, strategy: str, cap: float | None) -> float:
        """The run's cap against the typical cap of the strategy's timed runs (1 when either is unknown)."""
        caps = [o.cap for o in self.observations if o.strategy == strategy and o.cap]
        if cap is None or not caps:
            return 1.0
        return cap / statistics.median(caps)

    def _fitted(self) -> tuple[float, dict[str, float], dict[str, float]]:
        if self._fit is None:
            self._fit = _fit_additive([(o.strategy, o.case, math.log(o.seconds)) for o in self.observations])
        return self._fit


def _scaled(obs: Observation, cap: float | None) -> float:
    return obs.seconds * (cap / obs.cap) if cap and obs.cap else obs.seconds


def _fit_additive(rows: Sequence[tuple[str, str, float]]) -> tuple[float, dict[str, float], dict[str, float]]:
    """log t ≈ overall + a[strategy] + b[case], by alternating shrunk means of the residuals."""
    overall = statistics.fmean(y for _, _, y in rows)
    a: dict[str, float] = defaultdict(float)
    b: dict[str, float] = defaultdict(float)
    for _ in range(FIT_PASSES):
        a = _shrunk_means((s, y - overall - b[c]) for s, c, y in rows)
        b = _shrunk_means((c, y - overall - a[s]) for s, c, y in rows)
    return overall, dict(a), dict(b)


def _shrunk_means(pairs: Iterable[tuple[str, float]]) -> defaultdict[str, float]:
    sums: dict[str, list[float]] = defaultdict(list)
    for name, value in pairs:
        sums[name].append(value)
    out: defaultdict[str, float] = defaultdict(float)
    for name, values in sums.items():
        out[name] = sum(values) / (len(values) + SHRINK)
    return out


def spread(runs: Sequence[Any], name_of: Callable[[Any], tuple[str, str]]) -> list[Any]:
    """``runs`` reordered so consecutive runs differ in strategy and case where they can (round robin over the
    strategies, each strategy's runs in turn over its cases): the first runs to finish teach the model most."""
    by_strategy: dict[str, dict[str, list[Any]]] = {}
    for run in runs:
        strategy, case = name_of(run)
        by_strategy.setdefault(strategy, {}).setdefault(case, []).append(run)
    columns = []
    for offset, cases in enumerate(by_strategy.values()):
        lists = list(cases.values())
        lists = lists[offset % len(lists) :] + lists[: offset % len(lists)]  # another case first for each strategy
        columns.append([run for group in itertools.zip_longest(*lists) for run in group if run is not None])
    return [run for group in itertools.zip_longest(*columns) for run in group if run is not None]


class RunQueue:
    """Runs waiting to start; :meth:`pop` gives one of the longest expected, as the model knows it then.

    ``item_of`` maps a queued item to what the model reads (strategy, case, params). Runs that differ only in
    seed or repeat share an expectation, so a pop costs one look per group, not per run. Groups keep
    :func:`spread` order, which breaks ties and orders what nothing is known about yet.
    """

    def __init__(self, items: Iterable[Any], model: RuntimeModel, item_of: Callable[[Any], Timed]) -> None:
        self.model = model
        self._groups: dict[tuple[str, str, str], list[Any]] = {}
        self._shapes: dict[tuple[str, str, str], Timed] = {}
        for item in spread(list(items), lambda item: (item_of(item).strategy, item_of(item).case)):
            run = item_of(item)
            group = (run.strategy, run.case, _params_key(run.params))
            self._groups.setdefault(group, []).append(item)
            self._shapes.setdefault(group, run)
        self._front: list[Any] = []  # put back to run next (a retry): ahead of every expectation
        self._seen = -1  # the model's observation count when the expectations below were computed
        self._expected: dict[tuple[str, str, str], float] = {}

    def __len__(self) -> int:
        return len(self._front) + sum(len(items) for items in self._groups.values())

    def push_front(self, item: Any) -> None:
        self._front.append(item)

    def pop(self) -> Any:
        if self._front:
            return self._front.pop()
        if not self._groups:
            raise IndexError("pop from an empty run queue")
        group = max(self._groups, key=self._expectation)  # the first of equals: spread order
        items = self._groups[group]
        item = items.pop(0)
        if not items:
            del self._groups[group]
        return item

    def ordered(self) -> list[Any]:
        """Every queued item, longest expected first (for executors that take a whole batch)."""
        groups = sorted(self._groups, key=self._expectation, reverse=True)
        return self._front[::-1] + [item for group in groups for item in self._groups[group]]

    def _expectation(self, group: tuple[str, str, str]) -> float:
        if self._seen != len(self.model.observations):
            self._seen, self._expected = len(self.model.observations), {}
        if group not in self._expected:
            self._expected[group] = self.model.expected(self._shapes[group]) or 0.0
        return self._expected[group]
