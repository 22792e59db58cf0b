"""The importer's view of one ONNX node (`Node`: its attributes and static inputs) and the
functions the import rules share: casts, constants, axes, padding and gathering."""
import networkx as nx
import numpy as np

from irtoy import numpy_dispatch, ops
from irtoy.errors import IrtoyError
from irtoy.onnx.tensors import tensor_array


class Node:
    """One ONNX node being imported: its name, op type, opset and attributes."""

    def __init__(self, proto, name, opset, onnx):
        self.proto, self.name, self.opset, self._onnx = proto, name, opset, onnx
        self.op_type, self.domain = proto.op_type, proto.domain
        self._attributes = {a.name: a for a in proto.attribute}
        self.unread = set(self._attributes)

    def attribute_proto(self, key):
        return self._attributes.get(key)

    def attr(self, key, default=None):
        """The attribute `key` as a plain value (ints, floats, str, lists, arrays), or `default`."""
        self.unread.discard(key)
        proto = self._attributes.get(key)
        if proto is None:
            return default
        if proto.type in (proto.GRAPH, proto.GRAPHS):
            raise IrtoyError(f"its attribute {key!r} is a subgraph (control flow), which irtoy does not import")
        value = self._onnx.helper.get_attribute_value(proto)
        if isinstance(value, self._onnx.TensorProto):
            return tensor_array(value, f"attribute {key!r}")
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            raise IrtoyError(f"its attribute {key!r} is a list of strings, which irtoy does not compute with")
        return value

    def static(self, value, what):
        """`value` as a NumPy array known at import, or an IrtoyError: it depends on the inputs."""
        if value is None:
            return None
        if is_traced(value):
            sources = model_inputs_of(value)
            error = IrtoyError(f"its {what} depends on the model's input(s) {', '.join(map(repr, sources))}, but "
                               f"irtoy needs it known at import (irtoy's shapes are static; `static_inputs` can fix "
                               f"an input's value)")
            error.needs_static_value = sources
            raise error
        return np.asarray(value)

    def ints(self, value, what):
        """A static input or attribute as a tuple of Python ints (None stays None)."""
        value = self.static(value, what)
        return None if value is None else tuple(int(v) for v in np.ravel(value))

    def call(self, entry, inputs):
        """Apply `entry`, then refuse any attribute it did not read."""
        result = entry(self, *inputs)
        if self.unread:
            raise IrtoyError(f"irtoy does not support its attribute(s) {', '.join(sorted(self.unread))}")
        return result

    def refuse(self, why):
        raise IrtoyError(why)


def model_inputs_of(value):
    """The names of the graph inputs a traced value is computed from."""
    graph = value._builder.graph
    nodes = nx.ancestors(graph.nx, value.node) | {value.node}
    return sorted(graph[n]["name"] for n in nodes if graph[n]["op"] == "input")


def is_traced(value):
    return hasattr(value, "_builder")


def cast_to(x, dtype):
    """x as `dtype`, adding no node when it is that already."""
    return x if x.dtype == np.dtype(dtype) else x.astype(dtype)


def full(shape, value, dtype):
    """A constant array of `shape` filled with `value` (a 0-d value broadcast: free to record)."""
    return np.broadcast_to(np.asarray(value, dtype), tuple(shape))


def axes_of(node, axes_input, ndim, attribute="axes"):
    """Axes given as an input (newer opsets) or an attribute (older), normalised to >= 0."""
    axes = node.ints(axes_input, "axes") if axes_input is not None else node.attr(attribute)
    return None if axes is None else tuple(int(a) % ndim if ndim else 0 for a in axes)


def move_axis(x, source, destination):
    """np.moveaxis, as a transpose."""
    order = [k for k in range(x.ndim) if k != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return np.transpose(x, order)


def along(axis, ndim, index):
    """A basic index picking `index` (an int or a slice) on `axis` and everything elsewhere."""
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def traceable_functions():
    """The NumPy functions and ufuncs irtoy traces (a rule uses one when irtoy has its op)."""
    return numpy_dispatch.FUNCTIONS


def pad_axis(x, axis, before, after, mode, value):
    """x padded on one axis: by `value` (mode constant), its mirror image, edge or wrap."""
    if before < 0 or after < 0:
        x = x[along(axis, x.ndim, slice(max(-before, 0), x.shape[axis] - max(-after, 0)))]
        before, after = max(before, 0), max(after, 0)
    if not before and not after:
        return x
    n = x.shape[axis]

    def part(start, stop, step=1):
        return x[along(axis, x.ndim, slice(start, stop, step))]

    def block(count):
        return full(x.shape[:axis] + (count,) + x.shape[axis + 1:], value, x.dtype)
    if mode == "constant":
        parts = [block(before), x, block(after)]
    elif mode == "reflect":
        if before >= n or after >= n:
            raise IrtoyError(f"reflect padding of {max(before, after)} on an axis of only {n}")
        parts = [part(before, 0, -1), x, part(n - 2, n - 2 - after, -1)]
    elif mode == "edge":
        edge = lambda k, count: np.broadcast_to(part(k, k + 1), x.shape[:axis] + (count,) + x.shape[axis + 1:])  # noqa
        parts = [edge(0, before), x, edge(n - 1, after)]
    elif mode == "wrap":
        parts = [part(n - before, n), x, part(0, after)]
    else:
        raise IrtoyError(f"Pad mode {mode!r} is not one of constant, reflect, edge, wrap")
    return np.concatenate([p for p in parts if p.shape[axis]], axis=axis)


def take(data, indices, axis):
    """np.take(data, indices, axis) with ONNX's negative indices, by irtoy's take when anything
    is traced: np.take(a constant table, traced indices) would not reach the tracer (NumPy
    dispatches np.take on its first argument alone)."""
    indices = indices if is_traced(indices) else np.asarray(indices)
    indices = np.where(indices < 0, indices + np.asarray(data.shape[axis], indices.dtype), indices)
    if not is_traced(data) and not is_traced(indices):
        return np.take(data, indices, axis=axis)
    return ops.take(data, indices, axis=axis)
