"""Small recipes and files shared by the tests."""

from xla_flags import host_device_flags

from neuralpde.datagen.navier_stokes_recipe import NavierStokesRecipe, Splits


def tiny_recipe(**changes) -> NavierStokesRecipe:
    """A recipe that generates in about a second: 32² solve, 16² store, 11 frames."""
    recipe = NavierStokesRecipe(
        name="tiny",
        solve_resolution=32,
        store_resolution=16,
        viscosity=(1e-3, 1e-2),
        dt=0.02,
        t_end=1.0,
        store_interval=0.1,
        splits=Splits(train=6, valid=2, test=2),
        chunk_size=4,
        store_velocity=True,
    )
    return recipe.replace(**changes)


def train_killed_and_resumed(config, tmp_path, kill_at: int):
    """Train ``config`` through the command line twice on 4 host devices: uninterrupted into
    ``tmp_path/reference``, and into ``tmp_path/killed`` with a ``kill -9`` once a checkpoint of
    step ``≥ kill_at`` exists, then ``--resume``. Returns the two run directories and the loss
    records the killed run had logged before it resumed."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from neuralpde.config import to_dict

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(to_dict(config)))
    env = {**os.environ, "XLA_FLAGS": host_device_flags(4)}

    def command(*args):
        return [sys.executable, "-m", "neuralpde.cli", "train", *args, "--no-evaluate"]

    reference, run = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(command(str(path), "--out", str(reference)), env=env, check=True,
                   capture_output=True)
    process = subprocess.Popen(command(str(path), "--out", str(run)), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if any(p.name.isdigit() and int(p.name) >= kill_at
               for p in (run / "checkpoints").glob("*")):
            break
        time.sleep(0.05)
    finished = process.poll() is not None
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not finished, "the run finished before it could be killed"
    log = (run / "metrics.jsonl").read_text() if (run / "metrics.jsonl").exists() else ""
    logged = sum('"loss"' in line for line in log.splitlines())
    subprocess.run(command("--resume", str(run)), env=env, check=True, capture_output=True)
    return reference, run, logged

