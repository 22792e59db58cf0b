"""ONNX in: a model becomes an irtoy graph by running it, node by node, on irtoy Tracers.

`load` traces a Python function that walks the model's nodes in order and applies, for each,
its entry in `irtoy.onnx.import_ops.IMPORTERS`: NumPy-style code on the node's input values.
So the result is an ordinary `Traced`: shapes, dtypes, gradients and every backend come from
irtoy itself, and the ONNX graph only has to be read, never executed.

Values are Tracers (they depend on the model's inputs) or NumPy arrays (initializers, the
outputs of `Shape`, ...). A node whose inputs are all arrays is computed at import with the
same code on the arrays, so shape computations (`Shape -> Gather -> Concat -> Reshape`, as
torch.onnx writes them) fold away; a node that needs a static value (a shape, axes) which
depends on the model's inputs is refused, naming it.

An op irtoy has no entry for is expanded from the function body ONNX declares for it
(LayerNormalization, the loss ops, ...) when it has one; otherwise it is refused. Each ONNX
node's nodes are traced inside `irtoy.scope(node name)`, and the irtoy node computing its
output is named after it, so drawings and the report show the model's own structure.
"""
import os

import numpy as np

from irtoy import api, tracing
from irtoy.errors import IrtoyError
from irtoy.onnx import import_ops
from irtoy.onnx.nodes import Node
from irtoy.onnx.tensors import onnx_dtype, tensor_array
from irtoy.onnx.engine import require

STANDARD_DOMAINS = ("", "ai.onnx")


def load(model_or_path, input_shapes=None, initializers="constants", static_inputs=None):
    """The irtoy graph of an ONNX model (a file path or an `onnx.ModelProto`), as a `Traced`.

    The traced function takes the model's inputs in its order (initializers excepted), named
    as in the model, and returns its outputs as a tuple. `input_shapes` ({input name: shape})
    fixes dimensions the model leaves open. `initializers="constants"` makes the weights
    constants of the graph; `"inputs"` makes them one more argument, a dict {name: array}
    called `initializers`, so they can be differentiated and trained. `static_inputs`
    ({input name: array}) fixes inputs to values known now: they become constants, and the
    traced function no longer takes them (a model that computes a shape from an input needs it).
    """
    fn = function(model_or_path, initializers, static_inputs)
    unknown = set(input_shapes or {}) - {v.name for v in fn.inputs}
    if unknown:
        raise IrtoyError(f"input_shapes names {sorted(unknown)}, which are not inputs of the model; its inputs are "
                         f"{[v.name for v in fn.inputs]}")
    specs = [input_spec(v, (input_shapes or {}).get(v.name)) for v in fn.inputs]

    def named_inputs(*args):
        for name, value in fn.arguments(args).items():     # name the input nodes as the model does
            value._builder.graph[value.node]["name"] = name
        return fn(*args)

    traced = api.trace(named_inputs, *specs, *([fn.weights] if initializers == "inputs" else []))
    traced.arg_names = [v.name for v in fn.inputs] + (["initializers"] if initializers == "inputs" else [])
    traced.name = fn.name
    return traced


def function(model_or_path, initializers="constants", static_inputs=None):
    """The ONNX model as a Python function of its inputs (then of a dict of its weights, with
    initializers="inputs"), returning its outputs as a tuple. On arrays it computes with
    NumPy; on traced values it records irtoy ops, so it composes with irtoy.grad and other
    code inside irtoy.trace (a model in a loss function, say)."""
    return ModelFunction(read_model(model_or_path), initializers, static_inputs or {})


class ModelFunction:
    """An ONNX model, callable on arrays and traced values (see `function`)."""

    def __init__(self, model, initializers, static_inputs):
        self.onnx = require("onnx")
        if initializers not in ("constants", "inputs"):
            raise IrtoyError(f"initializers={initializers!r}: give 'constants' or 'inputs'")
        self.opset = check_opsets(model)
        if model.functions:                 # functions defined in the model: inline them first
            model = require("onnx.inliner").inline_local_functions(model)
        self.graph, self.name, self.trainable = model.graph, model.graph.name or "onnx_model", initializers == "inputs"
        self.weights = {t.name: tensor_array(t, f"initializer {t.name!r}") for t in self.graph.initializer}
        self.static = {name: np.asarray(value) for name, value in static_inputs.items()}
        graph_inputs = [v for v in self.graph.input if v.name not in self.weights]
        unknown = set(self.static) - {v.name for v in graph_inputs}
        if unknown:
            raise IrtoyError(f"static_inputs names {sorted(unknown)}, which are not inputs of the model")
        for v in graph_inputs:
            if v.name in self.static:       # checked as an argument would be
                spec = input_spec(v, self.static[v.name].shape)
                if self.static[v.name].dtype != spec.dtype:
                    raise IrtoyError(f"static_inputs gives input {v.name!r} as {self.static[v.name].dtype}, but "
                                     f"the model declares {spec.dtype}")
        self.inputs = [v for v in graph_inputs if v.name not in self.static]
        check_value_types(self.graph)

    def arguments(self, args):
        """{model input or weight name: value} for the arguments of a call."""
        args = list(args)
        trainable = args.pop() if self.trainable else {}
        if len(args) != len(self.inputs):
            raise IrtoyError(f"the model takes {len(self.inputs)} input(s) "
                             f"({', '.join(v.name for v in self.inputs)}), not {len(args)}")
        return {**dict(zip([v.name for v in self.inputs], args)), **trainable}

    def __call__(self, *args):
        values = {**self.weights, **self.static, **self.arguments(args)}
        run_nodes(self.graph.node, values, self.opset, self.onnx)
        missing = [o.name for o in self.graph.output if o.name not in values]
        if missing:
            raise IrtoyError(f"the model's outputs {missing} are computed by no node")
        return tuple(values[o.name] for o in self.graph.output)


# -- reading and checking the model ----------------------------------------------------------

def read_model(model_or_path):
    """The ModelProto of a path or a ModelProto. Reading parses protobuf only; tensors stored
    in external files are read only from the model's own folder."""
    onnx = require("onnx")
    if isinstance(model_or_path, onnx.ModelProto):
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model_or_path.graph.initializer):
            raise IrtoyError("the model keeps tensors in external files; load it from its path so irtoy knows "
                             "the folder they are in")
        return model_or_path
    path = os.fspath(model_or_path)
    try:
        model = onnx.load(path, load_external_data=False)
    except OSError as e:
        raise IrtoyError(f"cannot read the ONNX model {path}: {e.strerror or e}") from None
    except Exception as e:          # protobuf's DecodeError: a truncated or damaged file
        raise IrtoyError(f"{path} is not a readable ONNX model (truncated or damaged?): {e}") from None
    load_external_data(model, os.path.dirname(os.path.abspath(path)), path)
    return model


def load_external_data(model, folder, path):
    """Read the tensors the model keeps in external files, refusing any path outside `folder`."""
    onnx = require("onnx")
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in tensor.external_data}
        where = os.path.realpath(os.path.join(folder, info.get("location", "")))
        if os.path.isabs(info.get("location", "")) or os.path.commonpath([where, os.path.realpath(folder)]) \
                != os.path.realpath(folder):
            raise IrtoyError(f"{path}: initializer {tensor.name!r} names the external file "
                             f"{info.get('location')!r}, outside the model's folder; irtoy reads none")
    try:
        require("onnx.external_data_helper").load_external_data_for_model(model, folder)
    except (OSError, ValueError) as e:
        raise IrtoyError(f"{path}: cannot read the model's external data: {e}") from None


def check_opsets(model):
    """The model's version of the standard ONNX op set; a newer one than onnx knows is refused."""
    onnx = require("onnx")
    newest = onnx.defs.onnx_opset_version()
    opset = None
    for entry in model.opset_import:
        if entry.domain in STANDARD_DOMAINS:
            opset = entry.version
    if opset is None:
        raise IrtoyError("the model imports no version of the standard ONNX op set (opset_import)")
    if opset > newest:
        raise IrtoyError(f"the model uses ONNX opset {opset}, newer than the newest this onnx knows ({newest}); "
                         f"upgrade onnx or export the model with an older opset")
    return opset


def input_spec(value_info, shape=None):
    """The irtoy Spec of a model input; `shape` fixes its open dimensions."""
    from irtoy.ir import Spec
    what = f"input {value_info.name!r}"
    kind = value_info.type.WhichOneof("value")
    if kind != "tensor_type":
        raise IrtoyError(f"{what} is a {kind or 'value without a type'}; irtoy takes tensors only")
    tensor = value_info.type.tensor_type
    dtype = onnx_dtype(tensor.elem_type, what)
    if shape is not None:
        declared = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        shape = tuple(int(d) for d in shape)
        if tensor.HasField("shape") and (len(shape) != len(declared) or
                                         any(d is not None and d != s for d, s in zip(declared, shape))):
            shown = ", ".join(str(d.dim_value) if d.HasField("dim_value") else d.dim_param or "?"
                              for d in tensor.shape.dim)
            raise IrtoyError(f"input_shapes gives {what} the shape {shape}, but the model declares ({shown})")
        return Spec(shape, dtype)
    if not tensor.HasField("shape"):
        raise IrtoyError(f"{what} has no declared shape; give it in input_shapes={{{value_info.name!r}: (...)}}")
    dims = []
    for d in tensor.shape.dim:
        if not d.HasField("dim_value"):
            name = d.dim_param or "?"
            raise IrtoyError(f"{what} has the dynamic dimension {name!r}; irtoy's shapes are static: give it in "
                             f"input_shapes={{{value_info.name!r}: (...)}}")
        dims.append(d.dim_value)
    return Spec(tuple(dims), dtype)


def check_outputs(graph):
    """Refuse outputs that are not tensors (sequences, maps, optionals)."""
    for v in graph.output:
        kind = v.type.WhichOneof("value")
        if kind not in ("tensor_type", None):
            raise IrtoyError(f"output {v.name!r} is a {kind}; irtoy computes tensors only")


def check_value_types(graph):
    """Refuse inputs and outputs that are not tensors, before any shape is known."""
    for v in graph.input:
        kind = v.type.WhichOneof("value")
        if kind != "tensor_type":
            raise IrtoyError(f"input {v.name!r} is a {kind or 'value without a type'}; irtoy takes tensors only")
    check_outputs(graph)


# -- running the nodes -----------------------------------------------------------------------

def run_nodes(nodes, values, opset, onnx, prefix=""):
    """Apply each node to `values` ({ONNX value name: Tracer or array}), adding its outputs."""
    for position, proto in enumerate(nodes):
        name = proto.name or f"{proto.op_type}_{position}"
        node = Node(proto, f"{prefix}{name}", opset, onnx)
        try:
            args = [lookup(values, i, node) for i in proto.input]
            with tracing.scope(name.strip("/") or node.op_type):      # nested in the caller's, in a body
                results = apply_node(node, args, values, opset, onnx)
        except IrtoyError as e:
            if getattr(e, "onnx_node", False):
                raise
            error = type(e)(f"ONNX node {node.name!r} ({node.op_type}): {e}")
            error.onnx_node = True
            error.needs_static_value = getattr(e, "needs_static_value", ())
            raise error from None
        except (ValueError, TypeError, IndexError, ArithmeticError, MemoryError) as e:   # NumPy, at import
            why = "it needs more memory than there is" if isinstance(e, MemoryError) else e
            error = IrtoyError(f"ONNX node {node.name!r} ({node.op_type}): computing it at import failed: {why}")
            error.onnx_node = True
            raise error from None
        results = results if isinstance(results, tuple) else (results,)
        for k, (out_name, value) in enumerate(zip(proto.output, results)):
            if out_name:
                values[out_name] = value
                name_value(value, node.name if len(proto.output) == 1 else f"{node.name}:{k}")


def lookup(values, name, node):
    if name == "":
        return None                 # an optional input left out
    if name not in values:
        raise IrtoyError(f"its input {name!r} is neither a model input, an initializer nor an earlier node's output")
    return values[name]


def apply_node(node, args, values, opset, onnx):
    """The node's results: its IMPORTERS entry, or its ONNX function body expanded."""
    if node.domain not in STANDARD_DOMAINS:
        raise IrtoyError(f"its op set {node.domain!r} is not the standard one; irtoy knows standard ONNX ops only")
    importer = import_ops.IMPORTERS.get(node.op_type)
    if importer is not None:
        return node.call(importer, args)
    if node.op_type in REFUSED:
        raise IrtoyError(REFUSED[node.op_type])
    body = function_body(node, args, opset, onnx)
    if body is None:
        raise IrtoyError(f"irtoy has no import rule for the ONNX op {node.op_type}, and ONNX defines it by no "
                         f"function body to expand")
    inner = dict(zip(body.input, args))
    defaults = {a.name: a for a in body.attribute_proto}
    defaults.update({name: a.default_value for name, a in onnx.defs.get_schema(node.op_type, opset).attributes.items()
                     if a.default_value.type != onnx.AttributeProto.UNDEFINED})
    run_nodes([bind_attributes(n, node, defaults, onnx) for n in body.node], inner, opset, onnx,
              prefix=f"{node.name}/")
    return tuple(inner.get(o) for o in body.output)


# Why an ONNX op without an import rule is refused, when there is more to say than that.
REFUSED = {
    **dict.fromkeys(["If", "Loop", "Scan"], "control flow (subgraphs) is not imported: irtoy graphs have no branches "
                                            "or loops"),
    **dict.fromkeys(["NonZero", "Unique", "Compress", "NonMaxSuppression", "StringSplit"],
                    "its result's shape depends on the data, and irtoy's shapes are static"),
    **dict.fromkeys(["RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Bernoulli",
                     "Multinomial"], "it draws ONNX's random numbers, which irtoy cannot reproduce"),
}


def function_body(node, args, opset, onnx):
    """The FunctionProto ONNX defines `node`'s op by at `opset`, or None."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    except onnx.defs.SchemaError:
        return None
    if schema.has_context_dependent_function:
        types = [onnx.helper.make_tensor_type_proto(onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                 .SerializeToString() if a is not None else b"" for a in args]
        body = schema.get_context_dependent_function_with_opset_version(opset, node.proto.SerializeToString(), types)
        return onnx.FunctionProto.FromString(body)
    if schema.has_function:
        body = onnx.FunctionProto.FromString(schema.get_function_with_opset_version(opset))
        return body if body.node else None
    return None


def bind_attributes(inner, caller, defaults, onnx):
    """A node of a function body with its attributes that refer to the caller's (ref_attr_name)
    replaced by the caller's values, or the op's default (`defaults`); else left out."""
    inner_copy = onnx.NodeProto()
    inner_copy.CopyFrom(inner)
    del inner_copy.attribute[:]
    for attribute in inner.attribute:
        if attribute.ref_attr_name:
            given = caller.attribute_proto(attribute.ref_attr_name) or defaults.get(attribute.ref_attr_name)
            if given is not None:
                bound = onnx.AttributeProto()
                bound.CopyFrom(given)
                bound.name = attribute.name
                inner_copy.attribute.append(bound)
        else:
            inner_copy.attribute.append(attribute)
    return inner_copy


# -- names -----------------------------------------------------------------------------------

def name_value(value, name):
    """Name the irtoy node computing an ONNX node's output after that node (its k-th output
    `node:k` when it has several); arrays computed at import are no nodes."""
    builder = getattr(value, "_builder", None)
    if builder is not None and "name" not in builder.graph[value.node]:
        builder.graph[value.node]["name"] = name
