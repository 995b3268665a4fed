"""Parameter dataclasses: parsing, coercion, ranges, help."""

from dataclasses import FrozenInstanceError, dataclass

import pytest

import regbench
from regbench import param
from regbench.strategy import ParameterError, parse_params


@dataclass(frozen=True)
class P:
    rate: float = param(1.0, "the rate", min=0, min_exclusive=True)
    count: int = param(10, "how many", min=1, max=100)
    policy: str = param("once", "the policy", choices=("never", "once"))
    rates: tuple[float, ...] = param((), "a list of rates", min=0)
    keep: bool = param(False, "keep the best")
    limit: float | None = param(None, "optional limit", min=0)


class S(regbench.SingleRunStrategy):
    Params = P

    def configure(self, method, params):
        pass


def test_strings_are_coerced():
    p = parse_params(P, {"rate": "0.5", "count": "7", "rates": "1,0.5,0.25", "keep": "yes", "limit": "none"})
    assert (p.rate, p.count, p.rates, p.keep, p.limit) == (0.5, 7, (1.0, 0.5, 0.25), True, None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rat": 1}, "unknown parameter 'rat'; valid: rate, count, policy, rates, keep, limit"),
        ({"rate": 0}, "rate: 0.0 is out of range; must be > 0"),
        ({"count": 101}, "count: 101 is out of range; must be ≥ 1 and ≤ 100"),
        ({"count": "many"}, "count: expected an integer, got 'many'"),
        ({"count": 2.5}, "count: expected an integer"),
        ({"policy": "always"}, "policy: 'always' is not one of 'never', 'once'"),
        ({"rates": "1,-1"}, "rates: -1.0 is out of range"),
        ({"keep": "maybe"}, "keep: expected true or false"),
        ({"rate": "nan"}, "rate: expected a finite number"),
    ],
)
def test_bad_values_are_refused_with_what_is_valid(values, message):
    with pytest.raises(ParameterError) as info:
        S("s").parse_params(values)
    assert message in str(info.value)
    assert "strategy 's'" in str(info.value)


def test_variants_are_instances_with_other_defaults():
    base, variant = S("s"), S("s-never", policy="never", count=3)
    assert base.parse_params().policy == "once"
    assert variant.parse_params() == P(policy="never", count=3)
    assert variant.parse_params({"count": 4}) == P(policy="never", count=4)
    with pytest.raises(FrozenInstanceError):
        variant.parse_params().count = 5


def test_bad_variant_defaults_fail_at_registration():
    with pytest.raises(ParameterError, match="defaults"):
        S("broken", count=0)


def test_param_specs_show_help_default_and_range():
    specs = {s.name: s for s in S("s", count=3).param_specs()}
    assert specs["count"].default == 3 and specs["count"].range == "≥ 1 and ≤ 100"
    assert specs["policy"].range == "one of 'never', 'once'"
    assert all(s.help for s in specs.values())
    assert specs["count"].describe() == "count (int, default 3 ≥ 1 and ≤ 100): how many"


def test_booleans_are_not_integers():
    with pytest.raises(ParameterError, match="count: expected an integer, got True"):
        S("s").parse_params({"count": True})
