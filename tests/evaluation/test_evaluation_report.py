"""The evaluation report on disk: files, strict JSON that round-trips, the Markdown tables."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from evaluation_helpers import CHANNELS, write_heat_file
from flax import nnx
from PIL import Image

from neuralpde.data.normalization import Normalization
from neuralpde.evaluation import evaluate_rollouts, write_report
from neuralpde.evaluation.report import report_steps
from neuralpde.io import TrajectoryFile
from neuralpde.models import FNO

FIGURES = ("rollout_snapshots.png", "error_vs_time.png", "energy_spectra.png")


@pytest.fixture(scope="module")
def heat_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("heat") / "heat.hdf5"
    write_heat_file(path, n=3, n_time=8)
    return path


def test_report_of_a_conditioned_fno(heat_file, tmp_path):
    with TrajectoryFile(heat_file) as f:
        fields, nu = f.fields(), f.scalar("diffusivity")
    normalization = Normalization(
        fields.mean(axis=(0, 1, 2, 3)), fields.std(axis=(0, 1, 2, 3)), nu.mean(keepdims=True),
        nu.std(keepdims=True), CHANNELS, ("diffusivity",))
    model = FNO(in_channels=2 * 2, out_channels=2, modes=(4, 4), width=8, depth=2,
                n_conditioning=1, rngs=nnx.Rngs(0))
    evaluation = evaluate_rollouts(model, normalization, heat_file, history=2, n_steps=5,
                                   target="difference", parameters=("diffusivity",))
    assert evaluation.n_trajectories == 3 and evaluation.n_steps == 5

    report = write_report(evaluation, tmp_path / "report", title="Untrained FNO, heat",
                          notes=["weights are random: a smoke test"])
    assert report == tmp_path / "report" / "report.md"
    for name in FIGURES:
        with Image.open(report.parent / name) as image:
            assert image.size[0] > 200 and image.size[1] > 200
    stored = json.loads((report.parent / "metrics.json").read_text())
    assert stored == evaluation.to_json()
    assert stored["n_steps"] == 5 and stored["parameters"] == ["diffusivity"]
    assert stored["target"] == "difference" and stored["channel_names"] == list(CHANNELS)
    assert len(stored["model"]["per_step"]["relative_l2"]) == 5
    assert len(stored["model"]["per_step"]["vrmse"][0]) == 2
    summary = stored["model"]["summary"]
    assert summary["trajectory_relative_l2"] == pytest.approx(
        float(np.mean(evaluation.model.trajectory_relative_l2)))
    assert stored["model_over_persistence"]["nrmse"] == pytest.approx(
        summary["nrmse"] / stored["persistence"]["summary"]["nrmse"])

    text = report.read_text()
    assert text.startswith("# Untrained FNO, heat\n") and "- weights are random" in text
    assert "| metric | model | persistence | model / persistence |" in text
    row = next(line for line in text.splitlines() if line.startswith("| whole-trajectory"))
    assert row.split("|")[2].strip() == f"{summary['trajectory_relative_l2']:.4g}"
    steps = [line.split("|")[1].strip() for line in text.split("## Relative L² error per step")[1]
             .splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert steps == ["1", "2", "5"]
    for name in FIGURES:
        assert f"({name})" in text


def test_blown_up_rollout_still_reports_in_strict_json(heat_file, tmp_path):
    def explode(u, conditioning):
        return jnp.full_like(u[..., -len(CHANNELS):], jnp.inf)

    identity = Normalization.identity(CHANNELS, ("diffusivity",))
    evaluation = evaluate_rollouts(explode, identity, heat_file, history=2,
                                   parameters=("diffusivity",))
    np.testing.assert_array_equal(evaluation.model.blowup_step, 0)
    report = write_report(evaluation, tmp_path, title="Blow-up")
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored["model"]["summary"]["relative_l2_mean"] is None
    assert stored["model"]["summary"]["blowup_fraction"] == 1.0
    text = report.read_text()
    assert "| fraction of trajectories that blow up | 1 | 0 |" in text
    # A nan correlation counts as decorrelated at once; persistence stays correlated here.
    assert "| 0.8 | 0 | 0 | 6 | 0.3 |" in text
    assert all((tmp_path / name).stat().st_size > 0 for name in FIGURES)


def test_report_steps():
    assert report_steps(1) == [1]
    assert report_steps(9) == [1, 2, 5, 9]
    assert report_steps(10) == [1, 2, 5, 10]
    assert report_steps(120) == [1, 2, 5, 10, 20, 50, 100, 120]
