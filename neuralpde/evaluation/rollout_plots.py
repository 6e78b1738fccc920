"""Figures of a :class:`~neuralpde.evaluation.evaluate.RolloutEvaluation`: snapshots, error
against lead time, and energy spectra of truth and prediction."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from neuralpde.evaluation.evaluate import RolloutEvaluation
from neuralpde.evaluation.rollout_metrics import THRESHOLDS
from neuralpde.evaluation.spectra import energy_spectrum


def _steps(n_steps: int, count: int) -> np.ndarray:
    """``count`` evenly spread step indices ``0 … T − 1``, without repeats."""
    return np.unique(np.linspace(0, n_steps - 1, min(count, n_steps)).round().astype(int))


def plot_rollout_snapshots(
    evaluation: RolloutEvaluation, example: int = 0, channel: int = 0, snapshots: int = 5,
    cmap: str = "RdBu_r",
) -> Figure:
    """Truth, prediction and error (prediction − truth) of one channel at a few lead times.

    Truth and prediction share one symmetric colour range, set by the truth (a blown-up
    prediction saturates instead of washing out the truth); the error row has its own.
    """
    steps = _steps(evaluation.n_steps, snapshots)
    truth = evaluation.examples_truth[example, steps, ..., channel]
    prediction = evaluation.examples_prediction[example, steps, ..., channel]
    error = prediction - truth
    name = evaluation.channel_names[channel]
    if truth.ndim == 2:  # 1D fields: curves, not images
        return _snapshot_curves(evaluation, steps, truth, prediction, error, name, example)
    figure, axes = plt.subplots(3, len(steps), figsize=(2.3 * len(steps) + 1.0, 6.6),
                                squeeze=False, layout="constrained")
    limit = float(np.abs(truth).max()) or 1.0
    finite = np.abs(error[np.isfinite(error)])
    error_limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    rows = [("truth", truth, limit), ("prediction", prediction, limit),
            ("error", error, error_limit)]
    for row, (label, data, bound) in enumerate(rows):
        for col, step in enumerate(steps):
            ax = axes[row, col]
            image = ax.imshow(data[col].T, origin="lower", cmap=cmap, vmin=-bound, vmax=bound)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"step {step + 1}, t = {evaluation.lead_time[step]:.3g}", fontsize=9)
            if col == 0:
                ax.set_ylabel(label, fontsize=9)
        figure.colorbar(image, ax=axes[row, :], shrink=0.9, label=name if row < 2 else "error")
    figure.suptitle(f"{name}, example trajectory {example}", fontsize=10)
    return figure


def _snapshot_curves(evaluation, steps, truth, prediction, error, name, example) -> Figure:
    """The 1D version of :func:`plot_rollout_snapshots`: truth and prediction over the grid
    index, and the error below, one column per lead time."""
    figure, axes = plt.subplots(2, len(steps), figsize=(2.6 * len(steps) + 0.5, 4.6),
                                squeeze=False, sharey="row", layout="constrained")
    for col, step in enumerate(steps):
        top, bottom = axes[0, col], axes[1, col]
        top.plot(truth[col], "-", color="black", lw=1.2, label="truth")
        top.plot(prediction[col], "--", color="tab:red", lw=1.2, label="prediction")
        bottom.plot(error[col], "-", color="tab:blue", lw=1.0)
        top.set_title(f"step {step + 1}, t = {evaluation.lead_time[step]:.3g}", fontsize=9)
        bottom.set_xlabel("cell", fontsize=8)
    axes[0, 0].set_ylabel(name, fontsize=9)
    axes[1, 0].set_ylabel("error", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    figure.suptitle(f"{name}, example trajectory {example}", fontsize=10)
    return figure


def plot_error_vs_time(evaluation: RolloutEvaluation) -> Figure:
    """Mean relative L² error (log scale) and Pearson correlation against lead time, for the
    model and the persistence baseline, with the correlation-time thresholds."""
    t = evaluation.lead_time
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for metrics, label, style in ((evaluation.model, "model", "-"),
                                  (evaluation.persistence, "persistence", "--")):
        left.plot(t, _positive(metrics.relative_l2), style, marker=".", label=label)
        right.plot(t, metrics.correlation, style, marker=".", label=label)
    left.set_yscale("log")
    left.set_ylabel("relative L² error")
    right.set_ylabel("correlation")
    for threshold in THRESHOLDS:
        right.axhline(threshold, color="grey", lw=0.7, ls=":")
    for ax in (left, right):
        ax.set_xlabel("lead time")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return figure


def plot_energy_spectra(
    evaluation: RolloutEvaluation, example: int = 0, times: int = 4
) -> Figure:
    """Shell energy spectra ``E(k)`` of truth (solid) and prediction (dashed) at a few lead times,
    complete shells ``1 ≤ k < min(n) / 2`` (see :func:`neuralpde.evaluation.energy_spectrum`)."""
    steps = _steps(evaluation.n_steps, times)
    fields = np.stack([evaluation.examples_truth[example, steps],
                       evaluation.examples_prediction[example, steps]])
    spectra = np.asarray(energy_spectrum(jnp.asarray(fields)))
    k_max = min(fields.shape[2:-1]) // 2
    k = np.arange(1, k_max)
    figure, ax = plt.subplots(figsize=(5, 3.8), layout="constrained")
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(steps)))
    for i, (step, colour) in enumerate(zip(steps, colours, strict=True)):
        t = f"t = {evaluation.lead_time[step]:.3g}"
        ax.plot(k, _positive(spectra[0, i, 1:k_max]), "-", color=colour, label=f"truth, {t}")
        ax.plot(k, _positive(spectra[1, i, 1:k_max]), "--", color=colour, label=f"model, {t}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("shell k")
    ax.set_ylabel("E(k)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return figure


def _positive(values: np.ndarray) -> np.ndarray:
    """Non-positive and non-finite entries as gaps on a log axis."""
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)
