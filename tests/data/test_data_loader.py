"""Sharded global batches: the stream is a function of the seed, resumable, and device-agnostic."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from data_helpers import Numbers
from helpers import host_device_flags
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from neuralpde.data import (
    DataError,
    ShardedBatches,
    Trajectories,
    TrajectoryWindows,
    data_mesh,
)


def stream(batches, n):
    """The first ``n`` batches as NumPy dicts."""
    return [jax.tree.map(np.asarray, next(batches)) for _ in range(n)]


def column(batches, key="x"):
    return np.concatenate([b[key] for b in batches])


def test_the_mesh_has_one_data_axis_over_all_devices():
    mesh = data_mesh()
    assert mesh.axis_names == ("data",) and mesh.devices.size == jax.device_count() == 4


def test_batches_are_sharded_and_equal_those_of_one_device(train_file):
    windows = TrajectoryWindows([train_file], 3, 2, parameters=["viscosity"])
    mesh = data_mesh()
    batches = ShardedBatches(windows, 8, mesh=mesh, seed=3, num_threads=2)
    batch = next(batches)
    assert batch["input"].shape == (8, 3, 16, 16, 3) and batch["target"].shape == (8, 2, 16, 16, 3)
    for leaf in batch.values():
        assert leaf.sharding == NamedSharding(mesh, P("data"))
        assert {shard.data.shape[0] for shard in leaf.addressable_shards} == {2}
    single = ShardedBatches(windows, 8, mesh=data_mesh(jax.devices()[:1]), seed=3, num_threads=0)
    reference = next(single)
    for key in batch:
        np.testing.assert_array_equal(np.asarray(batch[key]), np.asarray(reference[key]))
    for row in range(8):  # each row is the window its indices name
        t, s = int(batch["trajectory"][row]), int(batch["start"][row])
        window = windows[t * windows.windows_per_trajectory + s]
        np.testing.assert_array_equal(np.asarray(batch["input"][row]), window["input"])
        np.testing.assert_array_equal(np.asarray(batch["conditioning"][row]),
                                      window["conditioning"])
    assert bool(np.all(np.asarray(batch["mask"])))


def test_batch_size_must_divide_over_the_devices():
    with pytest.raises(DataError, match=r"batch size 6 .* 4 devices"):
        ShardedBatches(Numbers(20), 6)


def test_shuffle_is_fixed_by_the_seed_and_new_each_epoch():
    n, batch = 20, 8
    first = column(stream(ShardedBatches(Numbers(n), batch, seed=7, num_threads=2), 10))
    again = column(stream(ShardedBatches(Numbers(n), batch, seed=7, num_threads=0), 10))
    other = column(stream(ShardedBatches(Numbers(n), batch, seed=8, num_threads=2), 10))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    epochs = first.reshape(-1, n)  # 80 elements: four epochs, which straddle batch edges
    for epoch in epochs:
        assert sorted(epoch) == list(range(n))  # every element exactly once per epoch
    assert len({tuple(e) for e in epochs}) == 4 and list(epochs[0]) != list(range(n))
    unshuffled = column(stream(ShardedBatches(Numbers(n), batch, shuffle=False), 5))
    np.testing.assert_array_equal(unshuffled, np.arange(40) % n)


def test_one_pass_pads_the_last_batch_with_a_mask():
    batches = ShardedBatches(Numbers(20), 8, seed=1, repeat=False)
    assert len(batches) == 3
    seen = list(batches)
    assert len(seen) == 3 and batches.samples_seen == 24
    seen = [jax.tree.map(np.asarray, b) for b in seen]
    mask, x = column(seen, "mask"), column(seen, "x")
    assert mask.sum() == 20 and not mask[-4:].any()
    assert sorted(x[mask]) == list(range(20))
    assert (x[~mask] == -1).all() and (column(seen, "square")[~mask] == 0).all()
    assert seen[-1]["vector"].shape == (8, 2)
    with pytest.raises(TypeError, match="infinite"):
        len(ShardedBatches(Numbers(20), 8))


def test_whole_trajectories_batch_for_evaluation(train_file):
    trajectories = Trajectories([train_file], parameters=["viscosity"])
    batches = [jax.tree.map(np.asarray, b) for b in
               ShardedBatches(trajectories, 4, shuffle=False, repeat=False)]
    assert len(batches) == 2 and batches[0]["fields"].shape == (4, 11, 16, 16, 3)
    np.testing.assert_array_equal(column(batches, "trajectory"), [0, 1, 2, 3, 4, 5, -1, -1])
    np.testing.assert_array_equal(batches[1]["fields"][1], trajectories[5]["fields"])


@pytest.mark.parametrize("num_threads", [0, 2])
def test_resuming_from_a_saved_state_gives_the_same_next_batches(num_threads):
    batches = ShardedBatches(Numbers(20), 8, seed=5, num_threads=num_threads, prefetch=4)
    stream(batches, 4)
    state = json.loads(json.dumps(batches.get_state()))
    assert state["step"] == 4 and state["samples_seen"] == 32
    expected = stream(batches, 5)
    resumed = ShardedBatches(Numbers(20), 8, seed=5, num_threads=num_threads, prefetch=4)
    resumed.set_state(state)
    assert resumed.step == 4
    np.testing.assert_array_equal(column(stream(resumed, 5)), column(expected))
    with pytest.raises(DataError, match="seed=5"):
        ShardedBatches(Numbers(20), 8, seed=6).set_state(state)


WORKER = textwrap.dedent("""
    import json, sys
    import jax
    import numpy as np
    jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2,
                               process_id=int(sys.argv[2]))
    from jax.experimental import multihost_utils
    sys.path.insert(0, sys.argv[3])
    from data_helpers import Numbers
    from neuralpde.data import ShardedBatches

    class Spy(Numbers):
        read = set()
        def __getitem__(self, index):
            Spy.read.add(int(index))
            return super().__getitem__(index)

    batches = ShardedBatches(Spy(20), 8, seed=2, num_threads=0)
    rows = [np.asarray(multihost_utils.process_allgather(next(batches)["x"], tiled=True))
            for _ in range(3)]
    print(json.dumps({"rows": np.concatenate(rows).tolist(), "read": sorted(Spy.read)}))
""")


def test_two_processes_each_read_their_share_of_every_global_batch():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    env = {**os.environ, "XLA_FLAGS": host_device_flags(2)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, address, str(i),
                                 os.path.dirname(__file__)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = []
    for worker in workers:
        output, errors = worker.communicate(timeout=120)
        assert worker.returncode == 0, errors
        results.append(json.loads(output.strip().splitlines()[-1]))
    expected = column(stream(ShardedBatches(Numbers(20), 8, seed=2), 3))
    for result in results:
        np.testing.assert_array_equal(result["rows"], expected)
    halves = expected.reshape(3, 2, 4)  # (batch, process, row): contiguous halves
    for process, result in enumerate(results):
        assert result["read"] == sorted(set(halves[:, process].ravel()))
