"""Evaluation: rollout metrics, energy spectra, rollout evaluation, figures and reports."""

from neuralpde.evaluation.evaluate import RolloutEvaluation, evaluate_rollouts
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
from neuralpde.evaluation.report import write_report
from neuralpde.evaluation.rollout_animation import animate_rollout
from neuralpde.evaluation.rollout_metrics import RolloutMetrics, trajectory_metrics
from neuralpde.evaluation.rollout_plots import (
    plot_energy_spectra,
    plot_error_vs_time,
    plot_rollout_snapshots,
)
from neuralpde.evaluation.spectra import energy_spectrum, energy_spectrum_error

__all__ = [
    "RolloutEvaluation",
    "RolloutMetrics",
    "animate_rollout",
    "blowup_step",
    "correlation_time",
    "energy",
    "energy_drift",
    "energy_spectrum",
    "energy_spectrum_error",
    "evaluate_rollouts",
    "mass_drift",
    "nrmse",
    "pearson_correlation",
    "plot_energy_spectra",
    "plot_error_vs_time",
    "plot_invariants",
    "plot_rollout_snapshots",
    "plot_snapshots",
    "relative_l2",
    "steps_to_time",
    "trajectory_metrics",
    "trajectory_relative_l2",
    "vrmse",
    "write_report",
]
