"""Rollout evaluation with the hard mass correction: the budget of the file holds every step."""

import numpy as np
import pytest

from neuralpde.constraints import read_mass_budget
from neuralpde.data import Normalization, split_files
from neuralpde.datagen import generate, load_recipe
from neuralpde.datagen.navier_stokes_recipe import Splits
from neuralpde.evaluation import evaluate_rollouts


@pytest.fixture(scope="module")
def stefan(tmp_path_factory):
    root = tmp_path_factory.mktemp("stefan")
    recipe = load_recipe("gpme-stefan-tiny").replace(splits=Splits(train=0, valid=0, test=3))
    generate(recipe, root, progress=False)
    return split_files(root / recipe.name, "test")[0]


def leaky(window, conditioning):
    """A 'model' that loses 5 % of the last frame each step (normalised = physical here)."""
    return 0.95 * window[..., -1:]


@pytest.mark.parametrize("correction", ["none", "hard"])
def test_hard_correction_closes_the_mass_budget(stefan, correction):
    normalization = Normalization.identity(("u",))
    result = evaluate_rollouts(leaky, normalization, stefan, history=2, correction=correction,
                               n_examples=3, batch_size=2)
    budget = read_mass_budget(stefan)
    prediction = result.examples_prediction[..., 0].astype(np.float64)
    mass = np.concatenate([budget.mass[:, 1:2], prediction.sum(-1) * budget.cell_volume], 1)
    # Each step: predicted mass = previous predicted mass + the recorded inflow over the step.
    defect = np.abs(np.diff(mass, axis=1) - budget.inflow[:, 2:]).max() / budget.mass.max()
    if correction == "hard":
        n_cells = prediction.shape[-1]
        assert defect < n_cells * np.finfo(np.float32).eps  # float32 summation round-off
    else:
        assert defect > 0.01
    assert result.to_json()["correction"] == correction
    with pytest.raises(ValueError, match="unknown correction"):
        evaluate_rollouts(leaky, normalization, stefan, history=2, correction="soft")
