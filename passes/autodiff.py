"""Reverse-mode differentiation as a graph pass: the backward pass becomes new graph nodes.

`differentiate(graph, wrt)` walks the graph from its scalar output back towards the inputs
(a reverse topological sweep). For every node it applies the vector-Jacobian product (VJP)
rule of the node's op: given `g`, the cotangent of the node's result (d output / d result),
the rule says what flows back to each argument. A node used several times receives one
contribution per use, and they are summed. The new nodes have role "backward" and carry the
`src` of the forward node they differentiate, so the drawing colours them apart and an error
in a gradient still points at the user's line.

The rules live in `VJP_RULES`, one per op, keyed by op name (JAX keeps its transpose rules
the same way). A rule is a plain function

    rule(g, out, *args, **attrs) -> one cotangent per argument (None: no gradient flows)

where `g` is the cotangent of the result, `out` the result, `args` the arguments (all of
them Tracers of the graph being differentiated, irtoy/builder.py: a shape, a dtype and
NumPy's operators) and `attrs` the node's attributes. Rules are written with irtoy's own ops
(`ops.sum`, `g * y`, ...), so what they emit is ordinary IR: it is drawn, optimised and
compiled like forward code, and it can be differentiated again (gradients of gradients).
A rule may return a cotangent in the broadcast shape of the result: the sweep sums it down
to the argument's shape (undoing broadcasting) and casts it to the argument's dtype.

Ops declared non-differentiable in the registry (comparisons, argmax, random numbers) pass
no gradient, and nothing flows into integer or boolean values (so an integer cast stops the
gradient).
"""
import numpy as np

from irtoy import ops
from irtoy.builder import GraphBuilder
from irtoy.errors import GraphError, ShapeError, located

VJP_RULES = {}


def vjp_rule(*names):
    """Register the decorated function as the VJP rule of the ops `names`."""
    def register(rule):
        for name in names:
            VJP_RULES[name] = rule
        return rule
    return register


# -- the pass ----------------------------------------------------------------------------

def differentiate(graph, wrt, with_value=False, name="the function"):
    """A new graph whose outputs are the gradients of `graph`'s scalar output.

    wrt: input node ids to differentiate with respect to. The outputs are one gradient per
    entry of `wrt` (same shape and dtype as that input), preceded by the value itself when
    `with_value`. `name` names the function in error messages.
    """
    _check_differentiable(graph, wrt, name)
    (result,) = graph.outputs
    g = graph.copy()
    forward_nodes = set(g.nx)
    order = g.order()
    needed = _on_a_path(g, wrt, result)
    builder = GraphBuilder(g, role="backward")
    cotangents = {result: builder.tracer(builder.constant(np.ones((), g[result]["dtype"])))}
    for n in reversed(order):
        if n not in cotangents or n not in needed:
            continue
        node = g[n]
        op = ops.REGISTRY[node["op"]]
        if op.kind == "source" or not op.differentiable:
            continue
        rule = VJP_RULES.get(op.name)
        if rule is None:
            raise GraphError(f"no gradient rule for the op {op.name!r} (add one to VJP_RULES in passes/"
                             f"autodiff.py, or declare the op non-differentiable){located(node.get('src'))}")
        builder.stamp(src=node.get("src"), scope=node.get("scope", ""))     # where the forward node came from
        args = g.args(n)
        contributions = rule(cotangents[n], builder.tracer(n), *map(builder.tracer, args), **node["attrs"])
        for a, ct in zip(args, contributions):
            if ct is None or a not in needed:
                continue
            ct = _fit(ct, g.spec(a))
            cotangents[a] = ct if a not in cotangents else cotangents[a] + ct
    builder.stamp()
    grads = [cotangents[w] if w in cotangents else _zeros(builder, g.spec(w)) for w in wrt]
    g.outputs = ([result] if with_value else []) + [v.node for v in grads]
    g.remove_unused([n for n in g.nx if n not in forward_nodes], keep=forward_nodes)  # cotangents no output needs
    return g


def _check_differentiable(graph, wrt, name):
    if len(graph.outputs) != 1:
        raise ShapeError(f"cannot differentiate {name}: it must return one scalar, but it returns "
                         f"{len(graph.outputs)} values")
    out = graph[graph.outputs[0]]
    spec = graph.spec(graph.outputs[0])
    if spec.shape != () or spec.dtype.kind != "f":
        what = "a floating-point scalar" if spec.shape == () else "a scalar (shape ())"
        raise ShapeError(f"cannot differentiate {name}: it must return {what}, but it returns {spec}; "
                         f"reduce it first, e.g. with .sum() or .mean(){located(out.get('src'))}")
    for w in wrt:
        node = graph[w]
        if node["op"] != "input":
            raise GraphError(f"can only differentiate with respect to inputs, and %{w} is a {node['op']}")
        if node["dtype"].kind != "f":
            what = node.get("name") or f"%{w}"
            raise ShapeError(f"cannot differentiate {name} with respect to {what}: it is {graph.spec(w)}, an "
                             f"array of {node['dtype'].name}, and only floating-point inputs have gradients "
                             f"(cast it to float before calling, or leave it out of wrt)")


def _on_a_path(graph, wrt, result):
    """Floating-point nodes that depend on a `wrt` input and that the result depends on."""
    reachable, stack = set(), list(wrt)
    while stack:
        n = stack.pop()
        if n not in reachable:
            reachable.add(n)
            stack.extend(graph.users(n))
    upstream, stack = set(), [result]
    while stack:
        n = stack.pop()
        if n not in upstream:
            upstream.add(n)
            stack.extend(graph.args(n))
    return {n for n in reachable & upstream if graph[n]["dtype"].kind == "f"}


def _fit(ct, spec):
    """The cotangent `ct` summed down to `spec.shape` (undoing broadcasting) in `spec.dtype`."""
    ct = sum_to_shape(ct, spec.shape)
    return ct if ct.dtype == spec.dtype else ops.cast(ct, spec.dtype)


def sum_to_shape(v, shape):
    """Sum `v` over the axes broadcasting added or stretched, to get back `shape`."""
    shape = tuple(shape)
    if v.shape == shape:
        return v
    lead = v.ndim - len(shape)
    if lead < 0:
        return ops.broadcast_to(v, shape)
    axes = tuple(i for i, d in enumerate(v.shape) if d != 1 and (i < lead or shape[i - lead] == 1))
    if axes:
        v = ops.sum(v, axes, keepdims=all(i >= lead for i in axes))
    return v if v.shape == shape else ops.reshape(v, shape)


def _zeros(builder, spec):
    zero = builder.tracer(builder.constant(np.zeros((), spec.dtype)))
    return zero if spec.shape == () else ops.broadcast_to(zero, spec.shape)


# -- helpers the rules share -----------------------------------------------------------------

def _scalar(value, like):
    """`value` as a 0-d constant of `like`'s dtype (Python floats would be float64 next to bools)."""
    return like.dtype.type(value)


def _reshape(v, shape):
    return v if v.shape == tuple(shape) else ops.reshape(v, shape)


def _broadcast(v, shape):
    return v if v.shape == tuple(shape) else ops.broadcast_to(v, shape)


def _with_reduced_axes(v, shape, axis):
    """`v`, an array of `shape` reduced over `axis`, made to broadcast against that array.

    Reduced leading axes come back by NumPy's broadcasting alone; others need a reshape
    that puts length-1 axes where they were.
    """
    if axis == tuple(range(len(axis))):
        return v
    return _reshape(v, tuple(1 if i in axis else d for i, d in enumerate(shape)))


def _swap_last_two(v):
    axes = tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2)
    return ops.transpose(v, axes)


def _tie_share(x, y, out):
    """1 where `x` alone is the result of maximum/minimum, 1/2 where `x` and `y` tie, else 0."""
    one, half, zero = _scalar(1, out), _scalar(0.5, out), _scalar(0, out)
    return ops.where(ops.equal(x, out), ops.where(ops.equal(y, out), half, one), zero)


# -- the rules: elementwise ------------------------------------------------------------------

@vjp_rule("add")
def _add(g, out, x, y):
    return g, g


@vjp_rule("subtract")
def _subtract(g, out, x, y):
    return g, -g


@vjp_rule("multiply")
def _multiply(g, out, x, y):
    return g * y, g * x


@vjp_rule("divide")
def _divide(g, out, x, y):
    g_over_y = g / y
    return g_over_y, -(g_over_y * out)


@vjp_rule("power")
def _power(g, out, x, y):
    """d/dx x**y = y x**(y-1), taken as 0 where y == 0; d/dy = x**y log x, taken as 0 where x == 0.

    The guards replace the operands as well as the results (x**(y-1) is computed as x**0 where
    y == 0, log x as log 1 where x == 0): the branch not taken stays finite, so its derivatives
    do too, and second derivatives at those points are 0 * finite, never 0 * inf = nan.
    """
    zero, one = _scalar(0, out), _scalar(1, out)
    y_is_zero, x_is_zero = ops.equal(y, zero), ops.equal(x, zero)
    dx = ops.where(y_is_zero, zero, y * x ** (ops.where(y_is_zero, one, y) - 1))
    dy = ops.where(x_is_zero, zero, out * ops.log(ops.where(x_is_zero, one, x)))
    return g * dx, g * dy


@vjp_rule("maximum", "minimum")
def _maximum_minimum(g, out, x, y):
    """The gradient goes to the argument that is the result; on a tie each gets half of it.

    This is JAX's convention for `max`/`min` (lax.max_p): where x == y, both arguments get
    g / 2, so the two halves add up to g when both are the same function of an input.
    """
    return g * _tie_share(x, y, out), g * _tie_share(y, x, out)


@vjp_rule("negative")
def _negative(g, out, x):
    return (-g,)


@vjp_rule("exp")
def _exp(g, out, x):
    return (g * out,)


@vjp_rule("log")
def _log(g, out, x):
    return (g / x,)


@vjp_rule("sin")
def _sin(g, out, x):
    return (g * ops.cos(x),)


@vjp_rule("cos")
def _cos(g, out, x):
    return (-(g * ops.sin(x)),)


@vjp_rule("tan")
def _tan(g, out, x):
    return (g * (1 + out * out),)


@vjp_rule("tanh")
def _tanh(g, out, x):
    return (g * (1 - out * out),)


@vjp_rule("sqrt")
def _sqrt(g, out, x):
    return (g / (out * 2),)


@vjp_rule("arctan2")
def _arctan2(g, out, y, x):
    """d/dy atan2(y, x) = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2); taken as 0 at the origin."""
    zero, one = _scalar(0, out), _scalar(1, out)
    r2 = x * x + y * y
    safe = ops.where(ops.equal(r2, zero), one, r2)      # guard the operand, so 0/0 never happens
    return g * x / safe, -(g * y / safe)


@vjp_rule("hypot")
def _hypot(g, out, x, y):
    """d/dx sqrt(x^2 + y^2) = x / hypot(x, y), likewise for y; taken as 0 at the origin."""
    zero, one = _scalar(0, out), _scalar(1, out)
    safe = ops.where(ops.equal(out, zero), one, out)
    return g * x / safe, g * y / safe


@vjp_rule("abs")
def _abs(g, out, x):
    """g * sign(x): at x == 0 the gradient is 0 (the subgradient PyTorch also picks)."""
    return (g * ops.sign(x),)


@vjp_rule("sign")
def _sign(g, out, x):
    """sign is flat wherever it is differentiable: no gradient."""
    return (None,)


@vjp_rule("log1p")
def _log1p(g, out, x):
    return (g / (x + 1),)


@vjp_rule("expm1")
def _expm1(g, out, x):
    return (g * (out + 1),)


def _log_base(base):
    """The rule of log_base: d/dx log_b x = 1 / (x ln b)."""
    def rule(g, out, x):
        return (g / (x * _scalar(np.log(base), out)),)
    return rule


vjp_rule("log2")(_log_base(2.0))
vjp_rule("log10")(_log_base(10.0))


@vjp_rule("exp2")
def _exp2(g, out, x):
    return (g * out * _scalar(np.log(2.0), out),)


@vjp_rule("sinh")
def _sinh(g, out, x):
    return (g * ops.cosh(x),)


@vjp_rule("cosh")
def _cosh(g, out, x):
    return (g * ops.sinh(x),)


@vjp_rule("arcsin")
def _arcsin(g, out, x):
    return (g / ops.sqrt(1 - x * x),)


@vjp_rule("arccos")
def _arccos(g, out, x):
    return (-(g / ops.sqrt(1 - x * x)),)


@vjp_rule("arctan")
def _arctan(g, out, x):
    return (g / (1 + x * x),)


@vjp_rule("arcsinh")
def _arcsinh(g, out, x):
    """1 / sqrt(x^2 + 1), as 1 / hypot(x, 1) so that x^2 never overflows."""
    return (g / ops.hypot(x, _scalar(1, out)),)


@vjp_rule("arccosh")
def _arccosh(g, out, x):
    """1 / sqrt(x^2 - 1), as 1 / (sqrt(x - 1) sqrt(x + 1)) so that x^2 never overflows."""
    return (g / (ops.sqrt(x - 1) * ops.sqrt(x + 1)),)


@vjp_rule("arctanh")
def _arctanh(g, out, x):
    return (g / ((1 - x) * (1 + x)),)


@vjp_rule("cbrt")
def _cbrt(g, out, x):
    return (g / (out * out * 3),)


def _logaddexp_base(power_of, log_of_half):
    """The rule of log(b^x + b^y) for b = e or 2: d/dx = b^(x - out), likewise for y, never
    above 1, so it cannot overflow. Where x == out (x the larger by far, or infinite) the
    exponent is taken as 0, so inf - inf never makes a nan; where x and y are the same
    infinity it is log_b(1/2), half each."""
    def rule(g, out, x, y):
        half, zero = _scalar(log_of_half, out), _scalar(0, out)

        def share(a, b):
            exponent = ops.where(ops.equal(a, out), zero, a - out)
            same_infinity = ops.bitwise_and(ops.equal(a, b), ops.equal(ops.abs(a), _scalar(np.inf, out)))
            return g * power_of(ops.where(same_infinity, half, exponent))
        return share(x, y), share(y, x)
    return rule


vjp_rule("logaddexp")(_logaddexp_base(ops.exp, -np.log(2.0)))
vjp_rule("logaddexp2")(_logaddexp_base(ops.exp2, -1.0))


@vjp_rule("copysign")
def _copysign(g, out, x, y):
    """|x| with the sign of y: the slope in x is sign(x) times y's sign; y only flips it."""
    one = _scalar(1, out)
    return g * ops.copysign(one, x) * ops.copysign(one, y), None


@vjp_rule("floor", "ceil", "rint", "trunc", "floor_divide")
def _piecewise_constant(g, out, *args):
    """Flat wherever they are differentiable: no gradient."""
    return (None,) * len(args)


@vjp_rule("remainder")
def _remainder(g, out, x, y):
    """x - y floor(x / y): 1 for x, -floor(x / y) for y (away from the jumps)."""
    return g, -(g * ops.floor_divide(x, y))


@vjp_rule("fmod")
def _fmod(g, out, x, y):
    """x - y trunc(x / y): 1 for x, -trunc(x / y) for y (away from the jumps)."""
    return g, -(g * ops.trunc(x / y))


@vjp_rule("where")
def _where(g, out, cond, x, y):
    zero = _scalar(0, g)
    return None, ops.where(cond, g, zero), ops.where(cond, zero, g)


@vjp_rule("cast")
def _cast(g, out, x, dtype):
    """Float-to-float casts pass the gradient back in the input's dtype; integer casts pass none."""
    return (ops.cast(g, x.dtype) if x.dtype.kind == "f" else None,)


# -- the rules: reductions -------------------------------------------------------------------

@vjp_rule("sum")
def _sum(g, out, x, axis, keepdims):
    return (_broadcast(_with_reduced_axes(g, x.shape, axis), x.shape),)


@vjp_rule("mean")
def _mean(g, out, x, axis, keepdims):
    count = int(np.prod([x.shape[a] for a in axis]))
    return (_broadcast(_with_reduced_axes(g / count, x.shape, axis), x.shape),)


@vjp_rule("max", "min")
def _max_min(g, out, x, axis, keepdims):
    """The gradient goes to the entries equal to the result, split equally between ties.

    This is JAX's convention for `max`/`min` reductions (lax.reduce_max): if k entries tie
    for the maximum, each gets g / k.
    """
    hits = ops.cast(ops.equal(x, _with_reduced_axes(out, x.shape, axis)), x.dtype)
    count = ops.sum(hits, axis, keepdims=True)
    return (_with_reduced_axes(g, x.shape, axis) / count * hits,)


# -- the rules: contraction ------------------------------------------------------------------

@vjp_rule("matmul")
def _matmul(g, out, a, b):
    """g @ b^T and a^T @ g, with 1-d operands made matrices first and broadcast batches summed."""
    a2 = a if a.ndim > 1 else ops.reshape(a, (1,) + a.shape)
    b2 = b if b.ndim > 1 else ops.reshape(b, b.shape + (1,))
    batch = g.shape[:g.ndim - (a.ndim > 1) - (b.ndim > 1)]
    g2 = _reshape(g, batch + (a2.shape[-2], b2.shape[-1]))
    da = sum_to_shape(g2 @ _swap_last_two(b2), a2.shape)
    db = sum_to_shape(_swap_last_two(a2) @ g2, b2.shape)
    return _reshape(da, a.shape), _reshape(db, b.shape)


# -- the rules: movement ---------------------------------------------------------------------

@vjp_rule("reshape", "expand_dims", "squeeze")
def _reshape_like(g, out, x, **attrs):
    return (ops.reshape(g, x.shape),)


@vjp_rule("transpose")
def _transpose(g, out, x, axes):
    return (ops.transpose(g, tuple(int(i) for i in np.argsort(axes))),)


@vjp_rule("broadcast_to")
def _broadcast_to(g, out, x, shape):
    return (sum_to_shape(g, x.shape),)


@vjp_rule("getitem")
def _getitem(g, out, x, index):
    """Scatter the cotangent back into zeros of the input's shape."""
    return (ops.scatter(g, index, x.shape),)


@vjp_rule("scatter")
def _scatter(g, out, x, index, shape):
    return (ops.bind("getitem", g, index=index),)


@vjp_rule("concatenate")
def _concatenate(g, out, *xs, axis):
    """Slice the cotangent apart again, one piece per argument."""
    pieces, start = [], 0
    for x in xs:
        stop = start + x.shape[axis]
        index = tuple((start, stop, 1) if i == axis else (0, d, 1) for i, d in enumerate(g.shape))
        pieces.append(ops.bind("getitem", g, index=index))
        start = stop
    return tuple(pieces)


# -- the rules: convolution and pooling --------------------------------------------------------
# conv2d is linear in its input and in its weight; conv_transpose2d and conv2d_weight_grad are
# its adjoints in each, so the three are each other's gradients and second derivatives of a
# convolutional network are graph nodes of the same three ops.

@vjp_rule("conv2d")
def _conv2d(g, out, x, w, stride, padding):
    dx = ops.conv_transpose2d(g, w, stride, padding, image_size=x.shape[2:])
    dw = ops.conv2d_weight_grad(x, g, w.shape[2:], stride, padding)
    return dx, dw


@vjp_rule("conv_transpose2d")
def _conv_transpose2d(g, out, y, w, stride, padding, image_size):
    return ops.conv2d(g, w, stride, padding), ops.conv2d_weight_grad(g, y, w.shape[2:], stride, padding)


@vjp_rule("conv2d_weight_grad")
def _conv2d_weight_grad(g, out, x, gy, kernel_size, stride, padding):
    return ops.conv_transpose2d(gy, g, stride, padding, image_size=x.shape[2:]), ops.conv2d(x, g, stride, padding)


@vjp_rule("max_pool2d")
def _max_pool2d(g, out, x, window, stride):
    """Each window's gradient goes to its first largest entry (ties: the first, row-major)."""
    return (ops.max_pool2d_grad(x, g, window, stride),)


@vjp_rule("max_pool2d_grad")
def _max_pool2d_grad(g, out, x, gy, window, stride):
    """Linear in gy; in x it is flat wherever it is differentiable (the winners only move at ties)."""
    return None, ops.max_pool2d_pick(x, g, window, stride)


@vjp_rule("max_pool2d_pick")
def _max_pool2d_pick(g, out, x, v, window, stride):
    return None, ops.max_pool2d_grad(x, g, window, stride)


@vjp_rule("avg_pool2d")
def _avg_pool2d(g, out, x, window, stride):
    return (ops.avg_pool2d_grad(g, window, stride, x.shape[2:]),)


@vjp_rule("avg_pool2d_grad")
def _avg_pool2d_grad(g, out, gy, window, stride, image_size):
    return (ops.avg_pool2d(g, window, stride),)
