"""Test kit for regbench plugins: pytest fixtures and the contract every strategy must meet.

Opt in from your test suite's root ``conftest.py`` (installing regbench registers no pytest plugin, so
SimpleITK is not loaded into every pytest session)::

    pytest_plugins = ["regbench.testing"]

Fixtures: ``regbench_pm`` (a fresh plugin manager, entry points off), ``register_plugin`` (register a plugin
into that manager for one test) and ``tiny_case`` (a 2D 64² case with known truth that runs in well under a
second).

The contract is modelled on scikit-learn's ``check_estimator``: each ``check_*`` function tests one rule and
raises :class:`StrategyCheckFailed` naming the strategy, the rule and what to fix. :func:`check_strategy` runs
them all; :func:`parametrize_with_checks` makes one pytest test per strategy and check::

    @parametrize_with_checks([MyOptimizer("my-opt")])
    def test_contract(strategy, check):
        check(strategy)
"""

from __future__ import annotations

from regbench.testing import checks
from regbench.testing.checks import *  # noqa: F403  (the contract's public names, re-exported for test suites)

#: What ``pytest_plugins = ["regbench.testing"]`` registers too: the fixtures (pytest imported only there).
pytest_plugins = ["regbench.testing.fixtures"]

__all__ = [*checks.__all__]
