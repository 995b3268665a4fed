"""The example plugin's tests: the strategy contract from regbench.testing, then what is specific to it."""

import regbench_example
from regbench_example import LevelByLevel, OnePlusOne, Powell

import regbench
from regbench.testing import check_strategy, parametrize_with_checks

STRATEGIES = [Powell("example-powell"), OnePlusOne("example-1p1"), LevelByLevel("example-powell-levels")]


# One test per strategy and contract rule, named e.g. test_contract[example-powell-check_reproducible].
@parametrize_with_checks(STRATEGIES)
def test_contract(strategy, check):
    check(strategy)


def test_contract_on_the_example_case():
    # The same contract on the plugin's own case; check_strategy raises listing every broken rule.
    pm = regbench.make_plugin_manager(entrypoints=False, plugins=[regbench_example])
    check_strategy(pm.get_strategy("example-powell"), case=pm.get_case("example-blobs-rigid"), pm=pm)


def test_the_plugin_registers_its_strategies_and_case(regbench_pm, register_plugin):
    register_plugin(regbench_example)
    assert {"example-powell", "example-1p1"} <= set(regbench_pm.strategies())
    case = regbench_pm.get_case("example-blobs-rigid")
    assert case.provenance.plugin == "regbench_example"


def test_powell_finds_the_known_translation(regbench_pm, tiny_case):
    record = regbench.run_one(Powell("example-powell"), tiny_case, seed=0, threads=1, pm=regbench_pm)
    assert record.status == "ok", record.error
    assert record.stop_category == "converged"
    assert record.error_mean < 0.1 * record.initial_error_mean


def test_the_run_seed_drives_the_evolution_strategy(regbench_pm, tiny_case):
    strategy = OnePlusOne("example-1p1")
    runs = [regbench.run_one(strategy, tiny_case, seed=s, threads=1, pm=regbench_pm) for s in (1, 1, 2)]
    assert runs[0].trace.metric == runs[1].trace.metric  # same seed, same mutations
    assert runs[0].trace.metric != runs[2].trace.metric  # another seed, other mutations


def test_level_by_level_records_one_execution_per_level(regbench_pm, tiny_case):
    record = regbench.run_one(LevelByLevel("example-powell-levels"), tiny_case, seed=0, threads=1, pm=regbench_pm)
    assert record.status == "ok", record.error
    assert [[level.index for level in segment.levels] for segment in record.segments] == [[0], [1]]
    assert record.error_mean < 0.1 * record.initial_error_mean
