"""How much the cleanup passes shrink the MLP's gradient graph: node counts at every stage.

    python benchmarks/graph_sizes.py

traces the loss of the benchmark MLP (the same network as `references.mlp_loss_and_grads`:
two ReLU layers, a linear output layer, mean softmax cross-entropy), adds its gradient
with respect to the parameters, compiles it, and prints the number of nodes each stage
has, plus the op counts before and after cleanup.
"""
import numpy as np

import irtoy
from irtoy.benchmarks.references import mlp_init
from irtoy.benchmarks.workloads import mlp_loss     # the MLP's loss in NumPy code irtoy traces


def mlp_gradient_stages(sizes=(784, 400, 100, 10), batch=128, dtype=np.float32):
    """The compiled loss-and-gradient function's stages: {stage name: graph}."""
    params = {k: irtoy.Spec(v.shape, v.dtype) for k, v in mlp_init(sizes, dtype=dtype).items()}
    x, y = irtoy.Spec((batch, sizes[0]), dtype), irtoy.Spec((batch, sizes[-1]), dtype)
    step = irtoy.trace(mlp_loss, params, x, y).value_and_grad(wrt=0).compile("numpy")
    return step.stages


def main():
    stages = mlp_gradient_stages()
    print("MLP 784-400-100-10, batch 128, float32: loss and gradient graph")
    print(f"{'stage':<14} {'nodes':>5}")
    for name, graph in stages.items():
        print(f"{name:<14} {len(graph):>5}")
    before, after = stages["grad"], list(stages.values())[-1]
    print(f"\ncleanup: {len(before)} -> {len(after)} nodes ({len(before) - len(after)} fewer)")
    print(f"\n{'op':<14} {'grad':>5} {'after':>6}")
    counts_before, counts_after = before.count_ops(), after.count_ops()
    for op in sorted(counts_before, key=lambda o: (-counts_before[o], o)):
        print(f"{op:<14} {counts_before[op]:>5} {counts_after.get(op, 0):>6}")


if __name__ == "__main__":
    main()
