"""ProbConserv's table on grids: one FNO family trained four ways on heat, porous medium, Stefan.

For each problem (the ``gpme-heat``, ``gpme-pme`` and ``gpme-stefan`` recipes, with fewer
trajectories) this generates the data (stored at 21 frames, ``STORE_INTERVAL``), trains

- ``unconstrained``: the FNO (member 0 of a small ensemble of ``--members`` seeds);
- ``soft``: the same FNO and seed with the PINN penalty of the finite-volume residual
  (``physics.residual_weight``), ``λ`` set so that the persistence forecast's penalty is 0.1;

and rolls them out autoregressively over every test trajectory (``lax.scan``) with
:func:`neuralpde.constraints.constrained_rollout`:

- ``unconstrained`` and ``soft``: no correction;
- ``hard``: the unconstrained FNO, orthogonally projected onto the mass budget after each step;
- ``probabilistic``: the ensemble's mean and variance, ProbConserv's update with ``σ² = 0``
  (Hansen et al., ICML 2023);
- ``ensemble``: the same ensemble without the update, the probabilistic row's reference;
- ``head + update``: one FNO with a variance head trained with ProbConserv's update in the loop
  (``physics.variance: head``, ``constraint: mass_balance``, ``loss: gaussian_nll``), rolled out
  with the update at every step;
- ``head, no update``: the same model rolled out without the update, its reference.

It reports the conservation error ``CE = mean |M_pred − M_true|`` over trajectories and
predicted frames (the mass ``Σ u |cell|``, ``M_true`` from the file's budget, which closes to
round-off), the largest ``|M_pred − M_true|`` relative to the true ``Σ |u| |cell|``, the MSE,
the Gaussian log-likelihood per point where there is a variance, the Stefan front-position
error against the similarity solution ``s(t) = 2 z₁ √t``, and the training and inference cost.
Results go to ``OUT/results.json`` and a Markdown table on stdout.

    .venv/bin/python experiments/conservation_gpme/run.py --out /work/data/conservation
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from neuralpde.config import apply_overrides
from neuralpde.constraints import constrained_rollout, read_mass_budget
from neuralpde.constraints.constrained_rollout import ConstrainedRollout
from neuralpde.data import Normalization, TrajectoryWindows, split_files
from neuralpde.datagen import generate, load_recipe, split_file
from neuralpde.io import TrajectoryFile
from neuralpde.models.fno import FNOConfig
from neuralpde.pde import StefanSimilarity
from neuralpde.training import (
    DataConfig,
    OneStep,
    OptimizerConfig,
    PhysicsConfig,
    TrainConfig,
    load_trained_model,
    residual_penalty_for,
    train,
)
from neuralpde.training.gaussian_head import gaussian_predictor, law_target, rollout_gaussian

PROBLEMS = {"heat": "gpme-heat", "pme": "gpme-pme", "stefan": "gpme-stefan"}
# 21 stored frames (20 intervals of T) instead of the recipes' 101: a one-step FNO trained for a
# few hundred steps does not stay stable over 99 autoregressive steps of PME or Stefan (measured,
# see README), and the conservation layers are meant to correct drift, not divergence.
STORE_INTERVAL = {"heat": 0.05, "pme": 0.05, "stefan": 0.005}
HISTORY = 2
VARIANCE_FLOOR = 1e-8  # the log-likelihood of a variance that the hard update sets to 0


def training_config(dataset: Path, parameter: str, seed: int, steps: int,
                    weight: float = 0.0, head: bool = False) -> TrainConfig:
    physics = (PhysicsConfig(constraint="mass_balance", variance="head") if head
               else PhysicsConfig(residual_weight=weight))
    return TrainConfig(
        name=f"fno-{seed}" + ("-soft" if weight else "") + ("-head" if head else ""),
        data=DataConfig(path=str(dataset), history=HISTORY, parameters=(parameter,)),
        model=FNOConfig(in_channels=HISTORY, out_channels=2 if head else 1, modes=(16,),
                        width=32, depth=4, n_conditioning=1),
        objective=OneStep(), loss="gaussian_nll" if head else "mse", target="difference",
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=50),
        physics=physics,
        steps=steps, batch_size=32, seed=seed, log_every=min(50, steps), eval_every=steps,
        checkpoint_every=steps,
    )


def persistence_weight(dataset: Path, recipe, parameter: str) -> float:
    """``λ`` that makes the penalty of the persistence forecast ``u₁ = u₀`` equal 0.1."""
    windows = TrajectoryWindows(split_files(dataset, "train"), history=HISTORY,
                                parameters=(parameter,), stride=7)
    items = [windows[i] for i in range(0, len(windows), max(1, len(windows) // 256))]
    batch = {k: jnp.asarray(np.stack([it[k] for it in items])) for k in
             ("input", "conditioning", "start")}
    identity = Normalization.identity(("u",), (parameter,))
    penalty = residual_penalty_for(recipe, 1.0, (parameter,), HISTORY, identity)
    return 0.1 / float(penalty(batch["input"], batch["input"][:, -1], batch))


def train_once(config: TrainConfig, run_dir: Path) -> tuple[object, float]:
    """The trained model, and the training seconds (recorded, so a rerun reuses the run)."""
    record = run_dir / "seconds.json"
    if not record.exists():
        result = train(config, run_dir, progress=False)
        record.write_text(json.dumps({"seconds": result.seconds}))
    return load_trained_model(run_dir), json.loads(record.read_text())["seconds"]


def head_rollout(model, normalization, window, budget, conditioning, law: str, n_steps: int):
    """A variance head's rollout in physical units, ``(mean, variance)``, conditioned on the
    mass budget at every step (``law = "mass_balance"``) or not (``"none"``)."""
    inflow = jnp.asarray(budget.inflow[:, HISTORY:HISTORY + n_steps], jnp.float32)
    batch = {"inflow": inflow, "cell_volume": jnp.full(inflow.shape[:1], budget.cell_volume)}
    beta = law_target(law, normalization, 0, batch)
    predict = gaussian_predictor(model, normalization.normalize_parameters(conditioning),
                                 "difference", beta, 0, 0.0)
    frames = rollout_gaussian(predict, normalization.normalize(window), n_steps)
    std = jnp.asarray(normalization.std)
    return normalization.denormalize(frames.mean), frames.variance * std**2


def gaussian_log_likelihood(mean, variance, truth) -> float:
    variance = np.maximum(variance, VARIANCE_FLOOR)
    return float(np.mean(-0.5 * (np.log(2 * np.pi * variance) + (truth - mean) ** 2 / variance)))


def front_position(u, threshold, cell):
    """Melted length ``Σ min(u, u*)/u* · h`` per trajectory and frame, ``u (traj, time, x, 1)``."""
    u_star = np.asarray(threshold)[:, None, None]
    return np.sum(np.minimum(u[..., 0], u_star) / u_star, axis=-1) * cell


def run_problem(name: str, out: Path, steps: int, members: int, counts: tuple[int, int, int]):
    recipe = load_recipe(PROBLEMS[name])
    train_n, valid_n, test_n = counts
    recipe = apply_overrides(recipe, [f"splits.train={train_n}", f"splits.valid={valid_n}",
                                      f"splits.test={test_n}",
                                      f"store_interval={STORE_INTERVAL[name]}"])
    t0 = time.perf_counter()
    generate(recipe, out / "data", resume=True, progress=False)
    generation = time.perf_counter() - t0
    dataset = out / "data" / recipe.name
    parameter = recipe.parameter_name
    weight = persistence_weight(dataset, recipe, parameter)

    ensemble, seconds = [], []
    for seed in range(members):
        model, s = train_once(training_config(dataset, parameter, seed, steps),
                              out / name / f"member_{seed}")
        ensemble.append(model)
        seconds.append(s)
    soft, soft_seconds = train_once(training_config(dataset, parameter, 0, steps, weight),
                                    out / name / "soft")
    head, head_seconds = train_once(training_config(dataset, parameter, 0, steps, head=True),
                                    out / name / "head")

    test_file = split_file(out / "data", recipe, "test")
    budget = read_mass_budget(test_file)
    with TrajectoryFile(test_file) as f:
        truth = f.fields().astype(np.float64)
        times = np.asarray(f.time)
        scalar = np.asarray(f.scalar(parameter), np.float32)
    window = jnp.asarray(truth[:, :HISTORY], jnp.float32)
    conditioning = jnp.asarray(scalar[:, None])
    common = dict(window=window, budget=budget, normalization=ensemble[0].normalization,
                  target="difference", conditioning=conditioning)
    members_models = [m.model for m in ensemble]
    # σ² = 0 imposes the budget exactly; σ² → ∞ (1e12 here) leaves the ensemble mean as it is
    # and returns its variance, the unconstrained reference.
    variants = {
        "unconstrained": (ensemble[0].model, "none", 0.0, seconds[0]),
        "soft": (soft.model, "none", 0.0, soft_seconds),
        "hard": (ensemble[0].model, "hard", 0.0, seconds[0]),
        "probabilistic": (members_models, "probabilistic", 0.0, sum(seconds)),
        "ensemble": (members_models, "probabilistic", 1e12, sum(seconds)),
        "head + update": (head, "mass_balance", 0.0, head_seconds),
        "head, no update": (head, "none", 0.0, head_seconds),
    }
    future = truth[:, HISTORY:]
    mass_true = budget.mass[:, HISTORY:]
    rows = {}
    for variant, (models, correction, sigma2, train_seconds) in variants.items():

        # One compiled rollout per variant, the models closed over: timed without compiling.
        if variant.startswith("head"):
            rollout = jax.jit(functools.partial(
                head_rollout, models.model, models.normalization, budget=budget,
                conditioning=conditioning, law=correction, n_steps=future.shape[1]))
        else:
            rollout = jax.jit(lambda window, models=models, correction=correction,
                              sigma2=sigma2: tuple(constrained_rollout(
                                  models, correction=correction, sigma2=sigma2,
                                  **(common | {"window": window}))))

        def roll(rollout=rollout):
            return ConstrainedRollout(*jax.block_until_ready(rollout(window)))

        roll()  # compile
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            result = roll()
            timings.append(time.perf_counter() - t0)
        mean = np.asarray(result.mean, np.float64)
        mass = mean.sum(axis=(2, 3)) * budget.cell_volume
        row = {
            "conservation_error": float(np.mean(np.abs(mass - mass_true))),
            # relative to the true frame's Σ|u| |cell| (the heat data's mass is 0)
            "max_relative_mass_error": float(np.max(np.abs(mass - mass_true) / (
                np.abs(future).sum(axis=(2, 3)) * budget.cell_volume))),
            "mse": float(np.mean((mean - future) ** 2)),
            "train_seconds": train_seconds,
            "rollout_ms": 1e3 * statistics.median(timings),
        }
        if result.variance is not None:
            row["log_likelihood"] = gaussian_log_likelihood(
                mean, np.asarray(result.variance, np.float64), future)
        if name == "stefan":
            exact = np.stack([np.asarray(StefanSimilarity(jnp.asarray(s)).front(
                jnp.asarray(times[HISTORY:]))) for s in scalar])
            row["front_error"] = float(np.mean(np.abs(
                front_position(mean, scalar, budget.cell_volume) - exact)))
        rows[variant] = row
    if name == "stefan":
        exact = np.stack([np.asarray(StefanSimilarity(jnp.asarray(s)).front(
            jnp.asarray(times[HISTORY:]))) for s in scalar])
        rows["solver (data)"] = {"front_error": float(np.mean(np.abs(
            front_position(future, scalar, budget.cell_volume) - exact)))}
    return {"recipe": recipe.name, "counts": counts, "cells": recipe.resolution[0],
            "frames": len(times), "residual_weight": weight, "generation_seconds": generation,
            "steps": steps, "members": members, "variants": rows}


def table(results: dict) -> str:
    lines = ["| problem | variant | CE | max rel. mass err. | MSE | log-lik. | front err. | "
             "train s | rollout ms |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, result in results.items():
        for variant, row in result["variants"].items():
            cells = [row.get(k) for k in ("conservation_error", "max_relative_mass_error",
                                          "mse", "log_likelihood", "front_error",
                                          "train_seconds", "rollout_ms")]
            text = ["-" if c is None else f"{c:.3g}" for c in cells]
            lines.append(f"| {name} | {variant} | " + " | ".join(text) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--steps", type=int, default=800, help="training steps per model")
    parser.add_argument("--members", type=int, default=3, help="ensemble size (≥ 2)")
    parser.add_argument("--counts", type=int, nargs=3, default=(128, 16, 32),
                        metavar=("TRAIN", "VALID", "TEST"), help="trajectories per split")
    args = parser.parse_args()
    if args.members < 2:
        parser.error("--members must be ≥ 2: the probabilistic variant needs a variance")
    args.out.mkdir(parents=True, exist_ok=True)
    results = {name: run_problem(name, args.out, args.steps, args.members, tuple(args.counts))
               for name in args.problems}
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
