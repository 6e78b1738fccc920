"""Evaluation: rollout metrics, energy spectra and figures."""

from neuralpde.evaluation.metrics import (
    blowup_step,
    correlation_time,
    energy,
    energy_drift,
    mass_drift,
    nrmse,
    pearson_correlation,
    relative_l2,
    steps_to_time,
    trajectory_relative_l2,
    vrmse,
)
from neuralpde.evaluation.plots import plot_invariants, plot_snapshots
from neuralpde.evaluation.spectra import energy_spectrum, energy_spectrum_error

__all__ = [
    "blowup_step",
    "correlation_time",
    "energy",
    "energy_drift",
    "energy_spectrum",
    "energy_spectrum_error",
    "mass_drift",
    "nrmse",
    "pearson_correlation",
    "plot_invariants",
    "plot_snapshots",
    "relative_l2",
    "steps_to_time",
    "trajectory_relative_l2",
    "vrmse",
]
