"""The online stream of a training config: its recipe, checked against the stored valid split.

Online and offline runs are judged on the same stored valid and test splits, so the recipe that
generates the training stream must be the one that wrote them, up to the split sizes: the same
physics, grid, frames and seed (whose train split indices the stream then extends).
"""

from __future__ import annotations

import dataclasses

from neuralpde.config import ConfigError, to_yaml
from neuralpde.data import TrajectoryWindows
from neuralpde.data.online_batches import OnlineStream
from neuralpde.datagen.recipes import load_recipe
from neuralpde.training.config import DataConfig
from neuralpde.training.physics_penalty import recorded_recipe


def online_stream(data: DataConfig, valid: TrajectoryWindows, future: int,
                  mass_budget: bool = False) -> OnlineStream:
    """The :class:`OnlineStream` of ``data`` (``source: online``), with channels in the order of
    the stored ``valid`` windows and ``future`` frames out.

    Raises:
        ConfigError: an unknown recipe, or one that did not write the valid split.
    """
    recipe = load_recipe(data.recipe)
    _check_same_recipe(recipe, valid)
    return OnlineStream(
        recipe=recipe, fields=valid.fields, parameters=tuple(data.parameters),
        history=data.history, future=future, stride=data.stride, buffer_size=data.buffer_size,
        refresh_size=data.refresh_size, refresh_every=data.refresh_every,
        mass_budget=mass_budget,
    )


def _check_same_recipe(recipe, valid: TrajectoryWindows) -> None:
    path = valid.files[0]
    stored = recorded_recipe(path)
    if to_yaml(dataclasses.replace(stored, splits=recipe.splits)) != to_yaml(recipe):
        raise ConfigError(
            f"the online recipe {recipe.name!r} is not the one that wrote the valid split "
            f"{path} (they differ beyond the split sizes): generate the valid and test splits "
            f"with it, e.g. `neuralpde generate {recipe.name} --out ROOT --set splits.train=0`"
        )
