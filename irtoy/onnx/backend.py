"""irtoy as an ONNX backend (`onnx.backend.base.Backend`), so ONNX's own test runner can run on it:

    onnx.backend.test.BackendTest(irtoy.onnx.Backend, __name__)      # the interpreter
    onnx.backend.test.BackendTest(irtoy.onnx.NumbaBackend, __name__) # numba's kernels

`prepare` imports the model with `irtoy.onnx.load` and compiles it with the backend's
irtoy backend. irtoy's shapes are static: a model with open dimensions is imported again for
each new set of input shapes it is run with (once per set).
"""
import numpy as np

from irtoy.errors import IrtoyError
from irtoy.onnx.engine import require
from irtoy.onnx.importer import check_value_types, load, read_model

onnx = require("onnx")
base = require("onnx.backend.base")


class BackendRep(base.BackendRep):
    """A prepared model, compiled once per set of input shapes it is run with.

    irtoy's shapes are static: a model that computes a shape, axes or pads from an input
    (ONNX's tests often pass them as inputs) is compiled for those inputs' values, as a
    JIT specializes on a static argument: those inputs (only those) become constants.
    """

    def __init__(self, model, irtoy_backend):
        self.model, self.irtoy_backend = model, irtoy_backend
        check_value_types(model.graph)
        weights = {t.name for t in model.graph.initializer}
        self.inputs = [v for v in model.graph.input if v.name not in weights]
        self.static_names = ()          # the inputs compiled in as values
        self.compiled = {}
        if all(has_static_shape(v) for v in self.inputs):
            self.compile_for(None)      # refuses what irtoy cannot run now, saying why

    def compile_for(self, inputs):
        """The compiled model for `inputs` (None: the declared shapes, values not yet known)."""
        names = [v.name for v in self.inputs]
        shapes = None if inputs is None else {n: a.shape for n, a in zip(names, inputs)}
        static = {} if inputs is None else {n: a for n, a in zip(names, inputs) if n in self.static_names}
        key = (None if shapes is None else tuple(sorted(shapes.items())),
               tuple((n, a.dtype.str, a.tobytes()) for n, a in static.items()))
        if key not in self.compiled:
            try:
                traced = load(self.model, input_shapes={n: s for n, s in (shapes or {}).items() if n not in static},
                              static_inputs=static)
            except IrtoyError as e:
                needed = set(getattr(e, "needs_static_value", ())) - set(self.static_names)
                if not needed:
                    raise
                self.static_names = [v.name for v in self.inputs if v.name in needed or v.name in self.static_names]
                return None if inputs is None else self.compile_for(inputs)     # None: at the first run
            self.compiled[key] = traced.compile(backend=self.irtoy_backend)
        return self.compiled[key]

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            inputs = [inputs[v.name] for v in self.inputs]
        inputs = [np.asarray(a) for a in inputs]
        compiled = self.compile_for(inputs)
        return tuple(compiled(*[a for v, a in zip(self.inputs, inputs) if v.name not in self.static_names]))


def has_static_shape(value_info):
    """Whether the input's shape is known (a value of another type is refused when imported)."""
    if value_info.type.WhichOneof("value") != "tensor_type":
        return True
    tensor = value_info.type.tensor_type
    return tensor.HasField("shape") and all(d.HasField("dim_value") for d in tensor.shape.dim)


class Backend(base.Backend):
    """ONNX models run on irtoy's interpreter."""
    irtoy_backend = "numpy"

    @classmethod
    def is_compatible(cls, model, device="CPU", **kwargs):
        return cls.supports_device(device)      # what irtoy cannot run, `prepare` refuses, saying why

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        return BackendRep(read_model(model), cls.irtoy_backend)

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        """Run one NodeProto on `inputs` (arrays, in the order of the node's present inputs)."""
        super().run_node(node, inputs, device)
        inputs = [np.asarray(a) for a in inputs]
        names = [name for name in node.input if name]
        graph = onnx.helper.make_graph(
            [node], f"run_node_{node.op_type}",
            [onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
             for name, a in zip(names, inputs)],
            [onnx.helper.make_empty_tensor_value_info(name) for name in node.output if name])
        opset = kwargs.get("opset_version", onnx.defs.onnx_opset_version())
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(node.domain, opset)])
        return BackendRep(model, cls.irtoy_backend).run(inputs)     # (the outputs' types are not known)

    @classmethod
    def supports_device(cls, device):
        return device == "CPU"


class NumbaBackend(Backend):
    """ONNX models run as irtoy's Numba-compiled kernels."""
    irtoy_backend = "numba"
