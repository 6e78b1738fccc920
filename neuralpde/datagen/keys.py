"""The key of each trajectory, derived from the recipe's seed, its split and its index."""

from __future__ import annotations

import jax

from neuralpde._typing import PRNGKeyArray


def trajectory_key(seed: int, split_index: int, trajectory_index) -> PRNGKeyArray:
    """Key of one trajectory: ``fold_in(fold_in(key(seed), split), index)``.

    Splits fold in different integers, so train, valid and test never share a key.
    """
    split_key = jax.random.fold_in(jax.random.key(seed), split_index)
    return jax.random.fold_in(split_key, trajectory_index)
