"""ONNX in and out (the optional extra `irtoy[onnx]`).

    traced = irtoy.onnx.load("model.onnx")            # an ONNX model as an irtoy graph
    f = irtoy.onnx.function("model.onnx")             # ... as a function to call inside irtoy.trace
    irtoy.onnx.export(traced, "model.onnx")           # any irtoy graph as an ONNX model
    irtoy.onnx.Backend                                # onnx.backend.base.Backend on irtoy

This package imports onnx only when one of these is used, so `import irtoy` never needs it.
"""


def load(model_or_path, input_shapes=None, initializers="constants", static_inputs=None):
    """An ONNX model (a path or an onnx.ModelProto) as an irtoy `Traced` (see importer.load)."""
    from irtoy.onnx.importer import load as load_model
    return load_model(model_or_path, input_shapes, initializers, static_inputs)


def function(model_or_path, initializers="constants", static_inputs=None):
    """An ONNX model as a Python function, on arrays or inside a trace (see importer.function)."""
    from irtoy.onnx.importer import function as model_function
    return model_function(model_or_path, initializers, static_inputs)


def export(traced_or_compiled, path=None, stage=None, opset=18):
    """Write a traced or compiled function's graph as an ONNX model (see exporter.export)."""
    from irtoy.onnx.exporter import export as export_model
    return export_model(traced_or_compiled, path, stage, opset)


def __getattr__(name):
    if name in ("Backend", "NumbaBackend", "BackendRep"):
        from irtoy.onnx import backend
        return getattr(backend, name)
    raise AttributeError(f"module 'irtoy.onnx' has no attribute {name!r}")
