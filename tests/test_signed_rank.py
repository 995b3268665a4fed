"""Our signed-rank posterior gives baycomp's probabilities exactly, from the same draws, ties at the rope included."""

from __future__ import annotations

import baycomp
import numpy as np
import pytest

from regbench.report.stats.signed_rank import signed_rank_probs


@pytest.mark.parametrize("trial", range(30))
def test_the_probabilities_are_baycomps(trial):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(2, 40))
    d = rng.normal(0.5, 2.0, n)
    d[rng.random(n) < 0.3] = 0.0  # equal errors: differences of exactly 0
    if trial % 3 == 0:
        d = np.round(d)  # sums exactly at the rope's edge count half
    expected = baycomp.SignedRankTest.probs(d, np.zeros(n), rope=1.0, nsamples=3000, random_state=trial)
    assert signed_rank_probs(d, np.zeros(n), 1.0, nsamples=3000, random_state=trial) == tuple(expected)


def test_the_same_seed_gives_the_same_answer():
    d = np.random.default_rng(0).normal(0.2, 1.0, 50)
    first = signed_rank_probs(d, np.zeros(50), 1.0, nsamples=2000, random_state=0)
    assert first == signed_rank_probs(d, np.zeros(50), 1.0, nsamples=2000, random_state=0)
    assert abs(sum(first) - 1.0) < 1e-12
