"""``neuralpde quickstart``: the README's first command, the main job on a small default.

Generates ``ns2d-tiny`` (or reuses a finished copy), validates it, trains an FNO on it, rolls it
out autoregressively over the test trajectories, and writes ``report.md`` with figures under
``out``: trajectories and invariants of the data, and the rollout evaluation (truth, prediction
and error snapshots, error against time beside the persistence baseline, energy spectra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuralpde.datagen import generate, load_recipe, split_file
from neuralpde.evaluation import plot_invariants, plot_snapshots
from neuralpde.evaluation.run_report import evaluate_run
from neuralpde.inspect import summarize
from neuralpde.io import TrajectoryFile, validate
from neuralpde.models.fno import FNOConfig
from neuralpde.training import DataConfig, OptimizerConfig, Pushforward, TrainConfig, train

HISTORY = 4


def quickstart_config(data: Path, n_channels: int, steps: int = 800) -> TrainConfig:
    """An FNO on ``HISTORY`` frames predicting the next frame's increment, pushforward-trained."""
    return TrainConfig(
        name="quickstart",
        data=DataConfig(path=str(data), history=HISTORY),
        model=FNOConfig(in_channels=HISTORY * n_channels, out_channels=n_channels,
                        modes=(8, 8), width=24, depth=4),
        objective=Pushforward(steps=2),
        loss="relative_l2",
        target="difference",
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=50),
        steps=steps,
        batch_size=16,
        log_every=max(steps // 16, 1),
        eval_every=max(steps // 4, 1),
        checkpoint_every=max(steps // 16, 1) * 4,
    )


def quickstart(out: str | Path = "runs/quickstart", recipe_name: str = "ns2d-tiny",
               steps: int = 800, progress: bool = True) -> Path:
    """Run the main job and return the path of its report."""
    out = Path(out)
    recipe = load_recipe(recipe_name)
    data = out / "data"
    report = generate(recipe, data, resume=True, progress=progress)
    files = validate(data / recipe.name)
    train_file = split_file(data, recipe, "train")
    for name, figure in {"trajectories.png": plot_snapshots(train_file),
                         "invariants.png": plot_invariants(train_file)}.items():
        figure.savefig(out / name, dpi=110)

    with TrajectoryFile(train_file) as file:
        n_channels = len(file.channel_names())
    config = quickstart_config(data / recipe.name, n_channels, steps)
    run_dir = out / "run"
    result = train(config, run_dir, resume=run_dir.exists(), progress=progress)
    evaluation_report, evaluation = evaluate_run(run_dir, out=out / "evaluation")
    model_error = evaluation.model.relative_l2
    persistence_error = evaluation.persistence.relative_l2
    beats = np.all(model_error < persistence_error)
    lines = [
        f"# neuralpde quickstart: {recipe.name}",
        "",
        recipe.description,
        "",
        "## Data",
        "",
        f"- generated {report.trajectories} new trajectories in {report.seconds_solving:.1f} s "
        f"(compile {report.compile_seconds:.1f} s), writing took {report.seconds_writing:.2f} s",
        f"- validated {len(files)} file(s) against the format spec",
        "",
        "![trajectories](trajectories.png)",
        "",
        "![invariants](invariants.png)",
        "",
        "```",
        summarize(train_file),
        "```",
        "",
        "## Model",
        "",
        f"An FNO ({config.model.width} channels, {config.model.modes} modes, "
        f"{config.model.depth} layers) maps {HISTORY} frames to the next frame's increment; "
        f"trained {config.steps} steps ({config.objective.kind}, {config.loss} loss) in "
        f"{result.seconds:.0f} s, final validation loss {result.valid_loss:.3g}.",
        "",
        f"Autoregressive rollout over {evaluation.n_steps} steps of "
        f"{evaluation.n_trajectories} test trajectories: relative L2 error "
        f"{model_error[0]:.3g} after one step and {model_error[-1]:.3g} at the last step, "
        f"against {persistence_error[0]:.3g} and {persistence_error[-1]:.3g} for persistence "
        f"(predicting the last input frame). The model "
        + ("beats persistence at every step." if beats else
           "does NOT beat persistence at every step: train longer (`steps`)."),
        "",
        f"Full evaluation: [evaluation/report.md]({evaluation_report.relative_to(out)})",
        "",
        "![rollout](evaluation/rollout_snapshots.png)",
        "",
        "![error](evaluation/error_vs_time.png)",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    print(f"quickstart report: {path}")
    return path
