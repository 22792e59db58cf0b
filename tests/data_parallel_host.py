"""One host of a two-host data-parallel training (tests/test_nn_data_parallel.py starts two).

    python tests/data_parallel_host.py PROCESS_ID PORT OUT.npz

Each process joins the group with jax.distributed.initialize (CPU collectives through gloo),
trains on the same data (each of its devices computes on its slice of every batch), and
saves the model it ends with.
"""
import sys

import jax

process_id, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

from irtoy import nn  # noqa: E402
from test_nn_data_parallel import host_data, spiral_model  # noqa: E402

x, y = host_data()
model = spiral_model(devices=jax.devices())
model.fit(x, y, epochs=2, batch_size=20, verbose=0)
model.save(out)
