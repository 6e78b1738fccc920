# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Quickstart: data, an FNO, and a rollout
#
# Generate a small 2D Navier–Stokes dataset, look inside its HDF5 file, train a Fourier neural
# operator for a few hundred steps, roll it out autoregressively and watch the error grow.
# Everything runs on a laptop CPU in a couple of minutes; raise the parameters below for a real
# study.

# %% tags=["parameters"]
OUT = "runs/notebook_01"  # everything this notebook writes goes here
RECIPE = "ns2d-tiny"  # a recipe name from datasets/, or a path to a YAML recipe
TRAIN_STEPS = 300  # the quickstart's default is 800

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, Markdown, display

from neuralpde.datagen import generate, load_recipe, split_file
from neuralpde.evaluation import (
    animate_rollout,
    energy_spectrum,
    plot_error_vs_time,
    plot_invariants,
    plot_rollout_snapshots,
    plot_snapshots,
)
from neuralpde.evaluation.run_report import evaluate_run
from neuralpde.inspect import summarize
from neuralpde.io import TrajectoryFile, validate
from neuralpde.quickstart import quickstart_config
from neuralpde.training import train

out = Path(OUT)

# %% [markdown]
# ## 1. Generate and validate
#
# `generate` solves the recipe's trajectories (vmapped, sharded over the local devices) and
# writes one HDF5 file per split in The Well's layout. `resume=True` reuses a finished dataset.

# %%
recipe = load_recipe(RECIPE)
display(Markdown(f"**{recipe.name}**: {recipe.description}"))
report = generate(recipe, out / "data", resume=True, progress=False)
files = validate(out / "data" / recipe.name)
train_file = split_file(out / "data", recipe, "train")
print(f"{len(files)} files meet the spec; solving took {report.seconds_solving:.1f} s")

# %% [markdown]
# ## 2. Inside the file
#
# The groups follow The Well (`dimensions`, `boundary_conditions`, `scalars`, `t0_fields`, ...);
# `provenance` records the recipe, seed, package version and git revision. Invariants (energy,
# enstrophy, mean vorticity) are stored per trajectory and time.

# %%
print(summarize(train_file))
with TrajectoryFile(train_file) as f:
    f.file.visititems(lambda name, node: print(f"  {name}  {getattr(node, 'shape', '')}"))
    attributes = dict(f.file.attrs)
print({k: attributes[k] for k in ("dataset_name", "n_spatial_dims", "n_trajectories")})

# %%
plot_invariants(train_file);

# %% [markdown]
# ## 3. Vorticity and its energy spectrum

# %%
plot_snapshots(train_file, trajectories=3, snapshots=5);

# %%
with TrajectoryFile(train_file) as f:
    vorticity = f.fields(slice(0, 4))
    times = f.time
spectrum = np.asarray(energy_spectrum(vorticity)).mean(axis=0)  # (time, shell)
figure, axis = plt.subplots(figsize=(5, 3.5))
for j in np.linspace(0, len(times) - 1, 4).round().astype(int):
    axis.loglog(np.arange(1, spectrum.shape[1]), spectrum[j, 1:], label=f"t = {times[j]:.2f}")
axis.set(xlabel="wavenumber shell |k|", ylabel="E(|k|) of the vorticity field", title="spectrum")
axis.legend();

# %% [markdown]
# ## 4. Train an FNO
#
# Four input frames, the next frame's increment as the target, pushforward training. The run
# directory holds checkpoints, `metrics.jsonl` and TensorBoard logs; rerunning resumes.

# %%
with TrajectoryFile(train_file) as f:
    n_channels = len(f.channel_names())
config = quickstart_config(out / "data" / recipe.name, n_channels, steps=TRAIN_STEPS)
run_dir = out / "run"
result = train(config, run_dir, resume=run_dir.exists(), progress=False)
print(f"{config.steps} steps in {result.seconds:.0f} s, validation loss {result.valid_loss:.3g}")

# %% [markdown]
# ## 5. Roll out over the test trajectories
#
# The model feeds on its own predictions for the whole trajectory. Persistence (repeating the
# last input frame) is the baseline to beat. The correlation time is the lead time until the
# Pearson correlation with the truth drops below 0.8.

# %%
evaluation_report, evaluation = evaluate_run(run_dir, out=out / "evaluation")
tau = evaluation.model.correlation_time[0.8]
print(f"relative L2 after one step {evaluation.model.relative_l2[0]:.3g}, "
      f"at the last step {evaluation.model.relative_l2[-1]:.3g} "
      f"(persistence {evaluation.persistence.relative_l2[-1]:.3g}); "
      f"correlation time (0.8) {np.mean(tau):.3g} ± {np.std(tau):.2g}")
plot_error_vs_time(evaluation);

# %%
plot_rollout_snapshots(evaluation, example=0, snapshots=5);

# %%
HTML(animate_rollout(evaluation, example=0).to_jshtml())
