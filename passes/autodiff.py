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


@vjp_rule("prod")
def _prod(g, out, x, axis, keepdims):
    """d prod / d x_i is the product of the other entries, found without dividing by zero.

    With p the product of the nonzero entries and k the number of zeros: where k == 0 it is
    p / x_i; where k == 1 it is p at the zero and 0 elsewhere; where k > 1 it is 0. The
    division's operand is x with its zeros replaced by 1, so no 0/0 ever happens.
    """
    zero, one = _scalar(0, x), _scalar(1, x)
    is_zero = ops.equal(x, zero)
    safe = ops.where(is_zero, one, x)
    zeros = ops.sum(is_zero, axis, keepdims=True)
    nonzero_product = ops.prod(safe, axis, keepdims=True)
    at_zero = ops.where(ops.equal(zeros, 1), nonzero_product, zero)
    elsewhere = ops.where(ops.equal(zeros, 0), nonzero_product, zero) / safe
    return (_with_reduced_axes(g, x.shape, axis) * ops.where(is_zero, at_zero, elsewhere),)


# -- the rules: scans --------------------------------------------------------------------------

def _reversed(v, axis):
    """`v` read backwards along `axis`."""
    return v[(slice(None),) * axis + (slice(None, None, -1),)]


def _sum_from(v, axis):
    """Entry i: the sum of v's entries i.. to the end of `axis` (a cumsum run backwards)."""
    return _reversed(ops.cumsum(_reversed(v, axis), axis), axis)


@vjp_rule("cumsum")
def _cumsum(g, out, x, axis):
    return (_sum_from(g, axis),)


@vjp_rule("cumprod")
def _cumprod(g, out, x, axis):
    """d/dx_i of sum_k g_k y_k, y_k = x_0 ... x_k: the sum over k >= i of g_k times the product
    of x_0..x_k but x_i, found without dividing by zero.

    With q the running product of x with its zeros replaced by 1 and c the running count of
    zeros, that product is q_k / x_i where c_k == 0 (no zero up to k), q_k where x_i is the
    first zero and c_k == 1, and 0 otherwise. So the gradient is the backwards sum of g q
    where c == 0, divided by x_i (its zeros made 1), or at a zero the backwards sum of g q
    where c == 1 (0 unless it is the first zero).
    """
    zero, one = _scalar(0, x), _scalar(1, x)
    is_zero = ops.equal(x, zero)
    safe = ops.where(is_zero, one, x)
    zeros_so_far = ops.cumsum(is_zero, axis)
    gq = g * ops.cumprod(safe, axis)
    before_any_zero = _sum_from(ops.where(ops.equal(zeros_so_far, 0), gq, zero), axis)
    after_first_zero = _sum_from(ops.where(ops.equal(zeros_so_far, 1), gq, zero), axis)
    return (ops.where(is_zero, after_first_zero, before_any_zero / safe),)


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


# -- the rules: linear algebra ------------------------------------------------------------------
# Ops with several results (qr, eigh, svd, slogdet) stack them in one array (irtoy/ops/
# linalg.py): their cotangent arrives stacked the same way and is sliced apart here. eigh and
# cholesky read one triangle of their argument only, so their gradient lies in that triangle.

def _rows(x, start, stop):
    """Rows start:stop of a stack of matrices."""
    return ops.getitem(x, (Ellipsis, slice(start, stop), slice(None)))


def _matrix_of_scalars(v):
    """A stack of scalars (batch,) as (batch, 1, 1), to scale a stack of matrices."""
    return ops.reshape(v, v.shape + (1, 1))


def _eye(n, like):
    return np.eye(n, dtype=like.dtype)


def _from_triangle(grad, uplo):
    """The gradient for an argument of which only the lower (uplo 'L') or upper triangle is
    read, given `grad`, valid for symmetric changes of it: an entry off the diagonal stands
    for both of its symmetric places, so it gets grad_ij + grad_ji."""
    n = grad.shape[-1]
    strict = np.tril(np.ones((n, n), grad.dtype), -1) if uplo == "L" else np.triu(np.ones((n, n), grad.dtype), 1)
    return (grad + _swap_last_two(grad)) * strict + grad * _eye(n, grad)


def _reciprocal_gaps(values):
    """F with F_ij = 1 / (values_j - values_i) off the diagonal, 0 on it and wherever two
    values are equal (the guard is on the operand: no 1/0 is ever computed)."""
    gaps = ops.expand_dims(values, -2) - ops.expand_dims(values, -1)
    zero = _scalar(0, gaps)
    apart = ops.not_equal(gaps, zero)
    return ops.where(apart, _scalar(1, gaps) / ops.where(apart, gaps, _scalar(1, gaps)), zero)


@vjp_rule("det")
def _det(g, out, a):
    """d det(A) = tr(adj(A) dA), so dA = g adj(A)^T (Giles 2008, "An extended collection of
    matrix derivative results for forward and reverse mode AD", 2.2.4, with adj(A) =
    det(A) A^-1). adj(A)^T is taken from the SVD A = U diag(s) V^T as det(U) det(V) U diag(c)
    V^T, c_i the product of the singular values but s_i: finite where A is singular (and
    A^-1 is not)."""
    u, s, vh = ops.svd(a)
    zero = ops.equal(s, _scalar(0, s))
    logs = ops.log(ops.where(zero, _scalar(1, s), s))
    zeros = ops.cast(zero, s.dtype)
    others_zero = ops.sum(zeros, -1, keepdims=True) - zeros
    c = ops.where(ops.greater(others_zero, _scalar(0, s)), _scalar(0, s),
                  ops.exp(ops.sum(logs, -1, keepdims=True) - logs))
    adjugate_t = _matrix_of_scalars(ops.det(u) * ops.det(vh)) * ((u * ops.expand_dims(c, -2)) @ vh)
    return (_matrix_of_scalars(g) * adjugate_t,)


@vjp_rule("slogdet")
def _slogdet(g, out, a):
    """d log|det(A)| = tr(A^-1 dA) (Giles 2008, 2.2.4); the sign is flat."""
    g_log = ops.getitem(g, (Ellipsis, 1))
    return (_matrix_of_scalars(g_log) * _swap_last_two(ops.inv(a)),)


@vjp_rule("inv")
def _inv(g, out, a):
    """d(A^-1) = -A^-1 dA A^-1, so dA = -A^-T g A^-T (Giles 2008, 2.2.3)."""
    out_t = _swap_last_two(out)
    return (-(out_t @ g @ out_t),)


@vjp_rule("solve")
def _solve(g, out, a, b):
    """x = A^-1 b: db = A^-T g and dA = -db x^T (Giles 2008, 2.3.1). A 1-d b is one vector
    for every matrix: its cotangents are solved as columns."""
    a_t = _swap_last_two(a)
    if b.ndim == 1:
        db = ops.solve(a_t, ops.reshape(g, g.shape + (1,)))
        x = ops.reshape(out, out.shape[:-1] + (1, out.shape[-1]))
        return -(db * x), ops.reshape(db, g.shape)
    db = ops.solve(a_t, g)
    return -(db @ _swap_last_two(out)), db


@vjp_rule("cholesky")
def _cholesky(g, out, a):
    """A = L L^T: with P = Phi(L^T g), the lower triangle of L^T g with its diagonal
    halved, dA = L^-T P L^-1 for symmetric changes (Murray 2016, "Differentiation of the
    Cholesky decomposition", eq. 10), then put into the lower triangle NumPy reads."""
    n = out.shape[-1]
    product = _swap_last_two(out) @ g
    phi = product * (np.tril(np.ones((n, n), out.dtype), -1) + _eye(n, out) * 0.5)
    l_inv = ops.inv(out)
    return (_from_triangle(_swap_last_two(l_inv) @ phi @ l_inv, "L"),)


def _qr_square_or_tall(q, r, gq, gr):
    """dA of A = QR with R square and invertible: with M = R gR^T - gQ^T Q and copyltu(M)
    its lower triangle mirrored to the upper, dA = (gQ + Q copyltu(M)) R^-T (Walter and
    Lehmann 2018; Liao et al. 2019, "Differentiable programming tensor networks", eq. 6)."""
    k = r.shape[-1]
    m = r @ _swap_last_two(gr) - _swap_last_two(gq) @ q
    lower = m * np.tril(np.ones((k, k), m.dtype), -1)
    copyltu = lower + _swap_last_two(lower) + m * _eye(k, m)
    b = gq + q @ copyltu
    return _swap_last_two(ops.solve(r, _swap_last_two(b)))     # b R^-T


@vjp_rule("qr")
def _qr(g, out, a):
    """The reduced QR (Liao et al. 2019). A wide A = [X | Y] is Q [U | V] with X = QU square
    and V = Q^T Y: Y's gradient is Q gV, and V's reaches X through Q as an extra Y gV^T."""
    m, n = a.shape[-2:]
    q, r = _rows(out, 0, m), _swap_last_two(_rows(out, m, m + n))
    gq, gr = _rows(g, 0, m), _swap_last_two(_rows(g, m, m + n))
    if m >= n:
        return (_qr_square_or_tall(q, r, gq, gr),)
    u, gu = ops.getitem(r, (Ellipsis, slice(0, m))), ops.getitem(gr, (Ellipsis, slice(0, m)))
    y, gv = ops.getitem(a, (Ellipsis, slice(m, n))), ops.getitem(gr, (Ellipsis, slice(m, n)))
    gx = _qr_square_or_tall(q, u, gq + y @ _swap_last_two(gv), gu)
    return (ops.concatenate([gx, q @ gv], axis=-1),)


@vjp_rule("eigh")
def _eigh(g, out, a, UPLO):
    """A = V diag(w) V^T: dA = V (diag(gw) + F * (V^T gV)) V^T for symmetric changes, with
    F_ij = 1 / (w_j - w_i) off the diagonal (the standard rule: Giles 2008, 3.1; Magnus
    1985), then put into the triangle NumPy reads."""
    n = a.shape[-1]
    v, w = _rows(out, 0, n), ops.getitem(out, (Ellipsis, n, slice(None)))
    gv, gw = _rows(g, 0, n), ops.getitem(g, (Ellipsis, n, slice(None)))
    inner = ops.expand_dims(gw, -2) * _eye(n, w) + _reciprocal_gaps(w) * (_swap_last_two(v) @ gv)
    return (_from_triangle(v @ inner @ _swap_last_two(v), UPLO),)


@vjp_rule("svd")
def _svd(g, out, a):
    """The reduced SVD A = U diag(s) V^T (Townsend 2016, "Differentiating the singular value
    decomposition"; Ionescu et al. 2015): with F_ij = 1 / (s_j^2 - s_i^2) off the diagonal,
    J = F * (U^T gU - gU^T U) and K = F * (V^T gV - gV^T V),
        dA = U (J S + diag(gs) + S K) V^T + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T),
    the last two terms for tall and wide A. S^-1 is taken as 0 where s is (no gradient flows
    through a zero singular value's vectors, rather than inf times 0)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    u, v, s = _rows(out, 0, m), _rows(out, m, m + n), ops.getitem(out, (Ellipsis, m + n, slice(None)))
    gu, gv, gs = _rows(g, 0, m), _rows(g, m, m + n), ops.getitem(g, (Ellipsis, m + n, slice(None)))
    f = _reciprocal_gaps(s * s)
    ut_gu, vt_gv = _swap_last_two(u) @ gu, _swap_last_two(v) @ gv
    j = f * (ut_gu - _swap_last_two(ut_gu))
    kk = f * (vt_gv - _swap_last_two(vt_gv))
    inner = j * ops.expand_dims(s, -2) + ops.expand_dims(gs, -2) * _eye(k, s) + ops.expand_dims(s, -1) * kk
    grad = u @ inner @ _swap_last_two(v)
    zero = _scalar(0, s)
    nonzero = ops.not_equal(s, zero)
    s_inv = ops.where(nonzero, _scalar(1, s) / ops.where(nonzero, s, _scalar(1, s)), zero)
    if m > k:
        grad = grad + ((gu - u @ ut_gu) * ops.expand_dims(s_inv, -2)) @ _swap_last_two(v)
    if n > k:
        grad = grad + u @ _swap_last_two((gv - v @ vt_gv) * ops.expand_dims(s_inv, -2))
    return (grad,)


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


@vjp_rule("gather")
def _gather(g, out, x, *indices, axes):
    """Add the cotangent back at the positions read: repeated indices add up (scatter_add)."""
    return (ops.bind("scatter_add", g, *indices, axes=axes, shape=x.shape),) + (None,) * len(indices)


@vjp_rule("scatter_add")
def _scatter_add(g, out, values, *indices, axes, shape):
    """Each value was added at its position: its cotangent is read back from there (gather)."""
    return (ops.bind("gather", g, *indices, axes=axes),) + (None,) * len(indices)


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
