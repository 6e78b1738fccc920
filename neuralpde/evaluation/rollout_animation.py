"""An animation of one rollout: truth, prediction and error side by side over lead time."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

from neuralpde.evaluation.evaluate import RolloutEvaluation


def animate_rollout(
    evaluation: RolloutEvaluation, example: int = 0, channel: int = 0, cmap: str = "RdBu_r",
    interval_ms: int = 150,
) -> FuncAnimation:
    """A ``FuncAnimation`` of one 2D example; show it with ``HTML(animation.to_jshtml())``.

    Truth and prediction share the truth's symmetric colour range; the error has its own, fixed
    over time so that its growth shows.
    """
    truth = evaluation.examples_truth[example, ..., channel]
    prediction = evaluation.examples_prediction[example, ..., channel]
    if truth.ndim != 3:
        raise ValueError(f"animate_rollout draws 2D fields, got frames of shape {truth.shape[1:]}")
    error = prediction - truth
    limit = float(np.max(np.abs(truth)))
    error_limit = float(np.nanmax(np.abs(error))) or 1.0
    name = evaluation.channel_names[channel]
    figure, axes = plt.subplots(1, 3, figsize=(10.5, 3.4), layout="constrained")
    images = []
    for axis, data, title, scale in zip(
        axes, (truth, prediction, error), ("truth", "prediction", "error"),
        (limit, limit, error_limit), strict=True,
    ):
        image = axis.imshow(data[0].T, origin="lower", cmap=cmap, vmin=-scale, vmax=scale)
        axis.set(title=f"{name}: {title}", xlabel="x", ylabel="y")
        figure.colorbar(image, ax=axis, shrink=0.8)
        images.append(image)
    label = figure.suptitle("")

    def draw(step):
        for image, data in zip(images, (truth, prediction, error), strict=True):
            image.set_data(data[step].T)
        label.set_text(f"lead time {evaluation.lead_time[step]:.3g}")
        return [*images, label]

    animation = FuncAnimation(figure, draw, frames=len(truth), interval=interval_ms, blit=False)
    plt.close(figure)
    return animation
