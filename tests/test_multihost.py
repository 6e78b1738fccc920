"""Generation under JAX's multi-process runtime: two processes, two host devices each."""

import dataclasses
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
from helpers import host_device_flags, tiny_recipe

from neuralpde.datagen import generate
from neuralpde.io import TrajectoryFile, validate

WORKER = textwrap.dedent("""
    import sys
    import jax
    jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2,
                               process_id=int(sys.argv[2]))
    assert jax.process_count() == 2 and len(jax.local_devices()) == 2
    sys.path.insert(0, sys.argv[4])
    from helpers import tiny_recipe
    from neuralpde.datagen import generate
    generate(tiny_recipe(), sys.argv[3], progress=False)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_write_their_shares_of_the_same_data(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "XLA_FLAGS": host_device_flags(2)}
    tests_dir = os.path.dirname(__file__)
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, address, str(i),
                                 str(tmp_path / "multi"), tests_dir], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output
    recipe = tiny_recipe()
    generate(recipe, tmp_path / "single", progress=False)
    validate(tmp_path / "multi" / recipe.name)
    for split in ("train", "valid", "test"):
        parts = sorted((tmp_path / "multi" / recipe.name / "data" / split).glob("*.hdf5"))
        assert all("_p00" in p.name for p in parts)
        index, fields = [], []
        for part in parts:
            with TrajectoryFile(part) as f:
                index.append(f.file["provenance/trajectory_index"][...])
                fields.append(f.fields())
        order = np.argsort(np.concatenate(index))
        single = tmp_path / "single" / recipe.name / "data" / split / f"tiny_{split}.hdf5"
        with TrajectoryFile(single) as f:
            np.testing.assert_array_equal(np.concatenate(fields)[order], f.fields())
    assert len(list((tmp_path / "multi" / recipe.name / "data" / "train").glob("*.hdf5"))) == 2


TRAIN_WORKER = textwrap.dedent("""
    import sys
    import jax
    jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2,
                               process_id=int(sys.argv[2]))
    from neuralpde.cli import main
    sys.exit(main(["train", sys.argv[3], "--out", sys.argv[4], "--no-evaluate"]))
""")


def two_processes_and_one(config_path, tmp_path) -> tuple[list, list]:
    """Loss curves of ``config_path`` trained by 2 processes × 2 devices and by 1 × 4."""
    from neuralpde.training.run_log import read_log

    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "XLA_FLAGS": host_device_flags(2)}
    workers = [subprocess.Popen([sys.executable, "-c", TRAIN_WORKER, address, str(i),
                                 str(config_path), str(tmp_path / "multi")], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output
    single = subprocess.run(
        [sys.executable, "-m", "neuralpde.cli", "train", str(config_path), "--out",
         str(tmp_path / "single"), "--no-evaluate"],
        env={**os.environ, "XLA_FLAGS": host_device_flags(4)},
        capture_output=True, text=True,
    )
    assert single.returncode == 0, single.stderr
    return tuple([r["loss"] for r in read_log(tmp_path / run) if "loss" in r]
                 for run in ("multi", "single"))


def test_two_processes_train_like_one(tmp_path):
    """2 processes × 2 devices give the loss curve of 1 process × 4 devices."""
    import yaml

    from neuralpde.config import to_dict
    from neuralpde.data import normalization_for, split_files

    generate(tiny_recipe(), tmp_path, progress=False)
    dataset = tmp_path / "tiny"
    normalization_for(split_files(dataset, "train"), ("viscosity",))  # shared stats.yaml
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "training"))
    from test_train_loop import tiny_config

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(to_dict(tiny_config(dataset, steps=8, checkpoint_every=4))))
    multi, one = two_processes_and_one(config, tmp_path)
    assert len(multi) == 8
    np.testing.assert_allclose(multi, one, rtol=2e-5)
    assert sorted(p.name for p in (tmp_path / "multi" / "checkpoints").iterdir()
                  if p.name.isdigit()) == ["4", "8"]


def test_two_processes_train_online_like_one(tmp_path):
    """Online: each device generates and samples its own share of the buffer, so 2 processes ×
    2 devices hold the buffer of 1 × 4 and give its loss curve."""
    import yaml

    from neuralpde.config import to_dict, to_yaml
    from neuralpde.datagen.navier_stokes_recipe import Splits

    recipe = tiny_recipe(splits=Splits(train=0, valid=2, test=2))
    generate(recipe, tmp_path, progress=False)
    (tmp_path / "tiny.yaml").write_text(to_yaml(recipe))
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "training"))
    from test_online_training import online_config

    stored = (tmp_path / "tiny", tmp_path / "tiny.yaml")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(to_dict(dataclasses.replace(online_config(stored), steps=8))))
    multi, one = two_processes_and_one(config, tmp_path)
    assert len(multi) == 8
    np.testing.assert_allclose(multi, one, rtol=2e-5)
