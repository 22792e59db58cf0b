"""Train the spiral classifier data-parallel on JAX: each batch split over every device.

On one machine, over the devices JAX sees (on a CPU, simulate several with XLA_FLAGS):

    XLA_FLAGS=--xla_force_host_platform_device_count=2 python examples/data_parallel.py

On several machines, run the same command on each, naming the first as coordinator; each
process joins with jax.distributed.initialize, trains on the same data and feeds its own
devices their slices of every batch:

    python examples/data_parallel.py --hosts 2 --host 0 --coordinator 10.0.0.1:1234   # first machine
    python examples/data_parallel.py --hosts 2 --host 1 --coordinator 10.0.0.1:1234   # second machine

Needs the extra: pip install 'irtoy[jax]'.
"""
import argparse

import jax

from irtoy import nn


def make_model(backend="jax", devices=None):
    """The spiral's MLP; with `devices`, each step's batch is split over them."""
    net = nn.Sequential([nn.Dense(2, 64), nn.ReLU(), nn.Dense(64, 64), nn.ReLU(), nn.Dense(64, 3)])
    return nn.Model(net, loss=nn.SoftmaxCrossEntropy(), optimizer=nn.Adam(lr=1e-2), backend=backend,
                    devices=devices, seed=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hosts", type=int, default=1, help="number of processes taking part (default 1)")
    parser.add_argument("--host", type=int, default=0, help="this process's number, 0 to hosts - 1")
    parser.add_argument("--coordinator", default=None, help="host:port of process 0, when hosts > 1")
    args = parser.parse_args()
    if args.hosts > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")     # how CPUs talk (GPUs, TPUs: their own)
        jax.distributed.initialize(args.coordinator, num_processes=args.hosts, process_id=args.host)

    x, y = nn.datasets.spiral(n_per_class=100, classes=3, noise=0.2, seed=0)
    model = make_model(devices=jax.devices())
    model.fit(x, y, epochs=args.epochs, batch_size=30, verbose=0)
    result = model.evaluate(x, y)
    print(f"{len(jax.devices())} device(s) on {jax.process_count()} host(s): "
          f"accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f}")


if __name__ == "__main__":
    main()
