"""Evaluation: figures now; rollouts, metrics and reports build on them."""

from neuralpde.evaluation.plots import plot_invariants, plot_snapshots

__all__ = ["plot_invariants", "plot_snapshots"]
