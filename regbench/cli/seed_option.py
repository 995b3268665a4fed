"""The ``--seed`` option of ``regbench run``: one seed or a comma-separated list, repeatable."""

from __future__ import annotations

import click

from regbench.run import MAX_SEED


class SeedList(click.ParamType):
    """``--seed S`` or ``--seed S1,S2,...``: seeds from 0 to :data:`~regbench.run.MAX_SEED` (what the store and ITK
    hold), as a tuple; the option's callback flattens the repeated option (:func:`flat_seeds`)."""

    name = "seed"

    def convert(self, value, param, ctx) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        seeds = []
        for part in str(value).split(","):
            try:
                seed = int(part.strip())
            except ValueError:
                seed = -1
            if not 0 <= seed <= MAX_SEED:
                self.fail(
                    f"{part.strip()!r} is not a seed: give integers from 0 to {MAX_SEED}, one or comma-separated "
                    "(--seed 0,1,2)",
                    param,
                    ctx,
                )
            seeds.append(seed)
        return tuple(seeds)


def flat_seeds(values: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """``--seed 1,2 --seed 5``: 1, 2, 5."""
    return tuple(seed for seeds in values for seed in seeds)
