"""A rollout evaluation on disk: ``metrics.json``, ``report.md`` and three figures."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neuralpde.evaluation.evaluate import RolloutEvaluation
from neuralpde.evaluation.rollout_metrics import THRESHOLDS
from neuralpde.evaluation.rollout_plots import (
    plot_energy_spectra,
    plot_error_vs_time,
    plot_rollout_snapshots,
)

FIGURES = {
    "rollout_snapshots.png": plot_rollout_snapshots,
    "error_vs_time.png": plot_error_vs_time,
    "energy_spectra.png": plot_energy_spectra,
}

SUMMARY_ROWS = {
    "trajectory_relative_l2": "whole-trajectory relative L² (FNO, Li et al. 2021)",
    "relative_l2_mean": "relative L², mean over steps",
    "relative_l2_final": "relative L², last step",
    "nrmse": "nRMSE, mean over steps (PDEBench)",
    "vrmse": "VRMSE, mean over steps and channels (The Well)",
    "correlation_mean": "correlation, mean over steps",
    "spectrum_error_mean": "energy-spectrum log error, mean over steps",
    "mass_drift_final": "mean absolute mass drift, last step",
    "energy_drift_final": "relative energy drift, last step",
    "blowup_fraction": "fraction of trajectories that blow up",
}


def write_report(
    evaluation: RolloutEvaluation, out_dir: str | Path, *, title: str, notes: Sequence[str] = ()
) -> Path:
    """Write ``metrics.json`` (:meth:`RolloutEvaluation.to_json`, strict JSON), the figures of
    :mod:`neuralpde.evaluation.rollout_plots` and ``report.md`` into ``out_dir``.

    Returns:
        The path of ``report.md``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(evaluation.to_json(), indent=1, allow_nan=False))
    for name, plot in FIGURES.items():
        figure = plot(evaluation)
        figure.savefig(out / name, dpi=110)
        plt.close(figure)
    path = out / "report.md"
    path.write_text(render_markdown(evaluation, title, notes))
    return path


def render_markdown(evaluation: RolloutEvaluation, title: str, notes: Sequence[str] = ()) -> str:
    """The text of ``report.md``: setup, summary table, correlation times, per-step errors."""
    e = evaluation
    model, persistence, ratio = e.model.summary(), e.persistence.summary(), e.ratios()
    lines = [f"# {title}", ""]
    lines += [f"- {note}" for note in notes] + ([""] if notes else [])
    lines += [
        f"{e.n_trajectories} trajectories from {', '.join(f'`{f}`' for f in e.files)}; "
        f"channels {', '.join(e.channel_names)}. Each rollout starts from the true frames "
        f"{e.start}…{e.start + e.history - 1} (history {e.history}, target `{e.target}`"
        + (f", conditioned on {', '.join(e.parameters)}" if e.parameters else "")
        + f") and predicts {e.n_steps} steps, up to lead time {_number(e.lead_time[-1])}. "
        "The persistence baseline repeats the last input frame.",
        "",
        "## Summary",
        "",
        "| metric | model | persistence | model / persistence |",
        "|---|---:|---:|---:|",
    ]
    for key, label in SUMMARY_ROWS.items():
        lines.append(f"| {label} | {_number(model[key])} | {_number(persistence[key])} | "
                     f"{_number(ratio[key])} |")
    lines += [
        "",
        "## Correlation time",
        "",
        "Steps (and lead time) until the Pearson correlation first drops below the threshold, "
        f"mean over trajectories; {e.n_steps} means it never drops within the horizon.",
        "",
        "| threshold | model steps | model time | persistence steps | persistence time |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in THRESHOLDS:
        lines.append(f"| {t} | {_number(model[f'correlation_steps_{t}'])} | "
                     f"{_number(model[f'correlation_time_{t}'])} | "
                     f"{_number(persistence[f'correlation_steps_{t}'])} | "
                     f"{_number(persistence[f'correlation_time_{t}'])} |")
    lines += [
        "",
        "## Relative L² error per step",
        "",
        "| step | lead time | model | persistence | model / persistence |",
        "|---:|---:|---:|---:|---:|",
    ]
    for step in report_steps(e.n_steps):
        m, p = e.model.relative_l2[step - 1], e.persistence.relative_l2[step - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.float64(m) / p
        lines.append(f"| {step} | {_number(e.lead_time[step - 1])} | {_number(m)} | "
                     f"{_number(p)} | {_number(r)} |")
    if e.nll is not None:
        lines += ["", "## Negative log-likelihood of the variance head", "",
                  "Gaussian NLL of the truth per cell, physical units, mean over trajectories.",
                  "", "| step | lead time | NLL |", "|---:|---:|---:|"]
        lines += [f"| {step} | {_number(e.lead_time[step - 1])} | {_number(e.nll[step - 1])} |"
                  for step in report_steps(e.n_steps)]
    lines += ["", "## Figures", ""]
    lines += [f"![{name[:-4].replace('_', ' ')}]({name})" for name in FIGURES]
    return "\n".join(lines) + "\n"


def report_steps(n_steps: int) -> list[int]:
    """Steps ``1, 2, 5, 10, 20, 50, …`` below ``T``, and ``T``."""
    steps = [s * 10**d for d in range(int(math.log10(max(n_steps, 1))) + 1) for s in (1, 2, 5)]
    return sorted({s for s in steps if s < n_steps} | {n_steps})


def _number(value) -> str:
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"
