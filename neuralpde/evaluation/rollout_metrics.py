"""The metrics of a set of rollouts: per trajectory on device, then reduced over trajectories.

:func:`trajectory_metrics` applies every metric of :mod:`neuralpde.evaluation.metrics` and
:mod:`neuralpde.evaluation.spectra` to one batch, jittable and per trajectory (nothing couples
trajectories, so a sharded batch needs no communication). :class:`RolloutMetrics` holds what is
kept of them for one predictor over a whole test set: per-step means over trajectories, a few
per-trajectory scalars, and the summaries a report prints.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neuralpde._typing import Array, Float, Int
from neuralpde.evaluation.metrics import (
    Trajectory,
    blowup_step,
    correlation_time,
    energy_drift,
    mass_drift,
    nrmse,
    pearson_correlation,
    relative_l2,
    trajectory_relative_l2,
    vrmse,
)
from neuralpde.evaluation.spectra import energy_spectrum_error

THRESHOLDS = (0.8, 0.95)
"""Correlation thresholds of the correlation time: PDE-Refiner's 0.8 and Kochkov et al.'s 0.95."""

PER_STEP = ("relative_l2", "nrmse", "vrmse", "correlation", "spectrum_error", "mass_drift",
            "energy_drift")


def trajectory_metrics(pred: Trajectory, true: Trajectory) -> dict[str, Array]:
    """Every rollout metric of each trajectory of a batch ``(batch, time, *space, channel)``.

    Returns a dict of arrays with a leading batch axis: ``(batch, time)`` for ``relative_l2``,
    ``nrmse``, ``correlation`` (Pearson), ``spectrum_error`` and ``energy_drift``;
    ``(batch, time, channel)`` for ``vrmse`` and ``mass_drift``; ``(batch,)`` for
    ``trajectory_relative_l2``, ``blowup_step`` and ``correlation_steps_<θ>`` for ``θ`` in
    :data:`THRESHOLDS`.
    """
    correlation = pearson_correlation(pred, true)
    out = {
        "relative_l2": relative_l2(pred, true),
        "nrmse": nrmse(pred, true),
        "vrmse": vrmse(pred, true),
        "correlation": correlation,
        "spectrum_error": energy_spectrum_error(pred, true),
        "mass_drift": mass_drift(pred, true),
        "energy_drift": energy_drift(pred, true),
        "trajectory_relative_l2": trajectory_relative_l2(pred, true),
        "blowup_step": blowup_step(pred, true),
    }
    for threshold in THRESHOLDS:
        out[f"correlation_steps_{threshold}"] = correlation_time(correlation, threshold)
    return out


@dataclasses.dataclass(frozen=True)
class RolloutMetrics:
    """One predictor's metrics over ``n`` trajectories of ``T`` predicted steps (NumPy).

    Per step, means over trajectories: ``relative_l2``, ``nrmse``, ``correlation``,
    ``spectrum_error`` and ``energy_drift`` ``(T,)``, ``vrmse`` ``(T, channel)``, and
    ``mass_drift`` ``(T, channel)`` as the mean *absolute* drift (signed drifts of different
    trajectories would cancel); ``energy_drift`` stays signed, negative where the predictor loses
    energy. A blown-up trajectory makes the means of its steps ``inf`` or ``nan``, on purpose.

    Per trajectory ``(n,)``: ``trajectory_relative_l2``, ``blowup_step`` (``T`` if none), and
    per threshold ``θ`` the correlation time in steps, ``correlation_steps[θ]``, and in physical
    time after the last input frame, ``correlation_time[θ]``.
    """

    relative_l2: Float[np.ndarray, " time"]
    nrmse: Float[np.ndarray, " time"]
    vrmse: Float[np.ndarray, "time channel"]
    correlation: Float[np.ndarray, " time"]
    spectrum_error: Float[np.ndarray, " time"]
    mass_drift: Float[np.ndarray, "time channel"]
    energy_drift: Float[np.ndarray, " time"]
    trajectory_relative_l2: Float[np.ndarray, " trajectory"]
    blowup_step: Int[np.ndarray, " trajectory"]
    correlation_steps: dict[float, Int[np.ndarray, " trajectory"]]
    correlation_time: dict[float, Float[np.ndarray, " trajectory"]]

    @classmethod
    def from_trajectories(
        cls, values: dict[str, np.ndarray], lead_time: Float[np.ndarray, "trajectory step"]
    ) -> RolloutMetrics:
        """Reduce the concatenated :func:`trajectory_metrics` of all trajectories.

        ``lead_time[i, j]`` is the time from trajectory ``i``'s last input frame to its ``j``-th
        predicted frame, ``j = 0 … T`` with ``lead_time[:, 0] = 0``.
        """
        means = {name: np.mean(values[name], axis=0) for name in PER_STEP}
        means["mass_drift"] = np.mean(np.abs(values["mass_drift"]), axis=0)
        steps = {t: values[f"correlation_steps_{t}"] for t in THRESHOLDS}
        times = {t: np.take_along_axis(lead_time, s[:, None], axis=1)[:, 0]
                 for t, s in steps.items()}
        return cls(**means, trajectory_relative_l2=values["trajectory_relative_l2"],
                   blowup_step=values["blowup_step"], correlation_steps=steps,
                   correlation_time=times)

    @property
    def n_steps(self) -> int:
        return len(self.relative_l2)

    def summary(self) -> dict[str, float]:
        """Scalar summaries, each a mean over trajectories (and steps, channels where stated).

        ``trajectory_relative_l2`` is the FNO paper's whole-trajectory error (Li et al. 2021),
        ``nrmse`` PDEBench's mean over steps, ``vrmse`` The Well's mean over steps and channels;
        ``*_final`` are at the last step and ``blowup_fraction`` counts trajectories that blow up
        within the horizon.
        """
        out = {
            "trajectory_relative_l2": np.mean(self.trajectory_relative_l2),
            "relative_l2_mean": np.mean(self.relative_l2),
            "relative_l2_final": self.relative_l2[-1],
            "nrmse": np.mean(self.nrmse),
            "vrmse": np.mean(self.vrmse),
            "correlation_mean": np.mean(self.correlation),
            "correlation_final": self.correlation[-1],
            "spectrum_error_mean": np.mean(self.spectrum_error),
            "mass_drift_final": np.mean(self.mass_drift[-1]),
            "energy_drift_final": self.energy_drift[-1],
            "blowup_fraction": np.mean(self.blowup_step < self.n_steps),
        }
        for t in THRESHOLDS:
            out[f"correlation_steps_{t}"] = np.mean(self.correlation_steps[t])
            out[f"correlation_time_{t}"] = np.mean(self.correlation_time[t])
        return {name: float(value) for name, value in out.items()}

    def to_json(self) -> dict:
        """Summaries, per-step means and per-trajectory scalars as plain lists and floats."""
        return json_safe({
            "summary": self.summary(),
            "per_step": {name: getattr(self, name) for name in PER_STEP},
            "per_trajectory": {
                "trajectory_relative_l2": self.trajectory_relative_l2,
                "blowup_step": self.blowup_step,
                **{f"correlation_steps_{t}": s for t, s in self.correlation_steps.items()},
                **{f"correlation_time_{t}": s for t, s in self.correlation_time.items()},
            },
        })


def json_safe(value):
    """Arrays to nested lists, NumPy scalars to Python ones, and ``nan`` or ``±inf`` to ``None``.

    Strict JSON has no non-finite numbers; a blown-up rollout is still visible as ``None`` and
    in ``blowup_step``.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
