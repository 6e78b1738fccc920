"""Generation under JAX's multi-process runtime: two processes, two host devices each."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
from helpers import tiny_recipe

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
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
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
