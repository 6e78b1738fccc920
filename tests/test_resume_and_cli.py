"""The command line, and resuming a generation killed with SIGKILL (bit-identical result)."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from helpers import tiny_recipe

from neuralpde.cli import main
from neuralpde.config import to_dict
from neuralpde.io import TrajectoryFile


def write_recipe(path, **changes):
    path.write_text(yaml.safe_dump(to_dict(tiny_recipe(**changes))))
    return path


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "neuralpde.cli", *args], capture_output=True,
                          text=True, **kwargs)


def test_generate_inspect_validate(tmp_path, capsys):
    recipe = write_recipe(tmp_path / "r.yaml")
    out = tmp_path / "out"
    assert main(["generate", str(recipe), "--out", str(out), "--set", "splits.train=2",
                 "--set", "splits.valid=0", "--set", "splits.test=1"]) == 0
    assert main(["validate", str(out / "tiny")]) == 0
    assert "ok: 2 file(s)" in capsys.readouterr().out
    assert main(["inspect", str(out / "tiny")]) == 0
    summary = capsys.readouterr().out
    assert "trajectories   2" in summary and "velocity_x" in summary and "viscosity" in summary


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["generate", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.hdf5"
    bad.write_bytes(b"not hdf5 at all")
    assert main(["validate", str(bad)]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("time_step", [{"dt": 0.01}, {"dt": 0.1, "courant": 0.05}],
                         ids=["fixed", "cfl"])
def test_resume_after_kill_is_bit_identical(tmp_path, time_step):
    recipe = write_recipe(tmp_path / "r.yaml", solve_resolution=64, store_resolution=32,
                          t_end=2.0, chunk_size=2, **time_step)
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    assert cli("generate", str(recipe), "--out", str(reference)).returncode == 0

    process = subprocess.Popen([sys.executable, "-m", "neuralpde.cli", "generate", str(recipe),
                                "--out", str(interrupted)], stderr=subprocess.DEVNULL)
    chunks = interrupted / "tiny" / ".partial" / "train"
    deadline = time.monotonic() + 120
    while not (chunks.exists() and any(chunks.glob("chunk_*.npz"))):
        assert process.poll() is None and time.monotonic() < deadline, "finished before kill"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = len(list(chunks.glob("chunk_*.npz")))
    assert 1 <= done < 3, "the kill must land mid-split for this test to mean anything"

    again = cli("generate", str(recipe), "--out", str(interrupted))
    assert again.returncode == 2 and "--resume" in again.stderr
    assert cli("generate", str(recipe), "--out", str(interrupted), "--resume").returncode == 0
    assert cli("validate", str(interrupted / "tiny")).returncode == 0
    for split in ("train", "valid", "test"):
        name = f"tiny/data/{split}/tiny_{split}.hdf5"
        with TrajectoryFile(reference / name) as a, TrajectoryFile(interrupted / name) as b:
            np.testing.assert_array_equal(a.fields(), b.fields())
            for scalar in a.scalar_names:
                np.testing.assert_array_equal(a.scalar(scalar), b.scalar(scalar))


def test_every_shipped_recipe_loads():
    from neuralpde.datagen import known_recipes, load_recipe

    names = known_recipes()
    assert {"ns2d-tiny", "ns2d-fno-nu1e-3", "gpme-pme", "gpme-barenblatt-2d-tiny"} <= set(names)
    for name in names:
        assert load_recipe(name).name == name


def test_train_picks_devices_and_eigen_convolutions_before_jax_starts(tmp_path, monkeypatch):
    """Online training splits the batch over one host device per core (the largest divisor of
    the batch size not above the core count); other training runs on one device. Every command
    selects XLA:CPU's Eigen convolutions unless ``XLA_FLAGS`` already chooses."""
    from argparse import Namespace

    from neuralpde import cli

    config = tmp_path / "unet.yaml"
    config.write_text(yaml.safe_dump({"model": {"kind": "unet"}, "batch_size": 6}))
    train = Namespace(command="train", config=str(config), resume=None, overrides=[])
    assert cli._trains_on_every_core(train) == (False, 6)
    online = Namespace(**{**vars(train), "overrides": ["data.source = online"]})
    assert cli._trains_on_every_core(online)[0]
    missing = Namespace(**{**vars(train), "config": str(tmp_path / "missing.yaml")})
    assert cli._trains_on_every_core(missing) == (False, None)

    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(4)), raising=False)
    for batch, devices in ((6, 3), (16, 4), (7, 1), (None, 4)):
        monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/dev/null")
        cli.use_every_core(batch)
        assert os.environ["XLA_FLAGS"].endswith(f"device_count={devices}")
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    cli.use_every_core(16)
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"

    monkeypatch.setenv("XLA_FLAGS", "")
    cli.use_eigen_convolutions()
    assert os.environ["XLA_FLAGS"] == cli.EIGEN_CONVOLUTIONS
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=individual_dot")
    cli.use_eigen_convolutions()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type=individual_dot"
