"""onnx and onnxruntime are an optional extra: imported here, when first needed, never by
`import irtoy`. Without them, using irtoy.onnx is one IrtoyError saying what to install."""
import importlib

from irtoy.errors import IrtoyError


def require(module="onnx"):
    """The module `module` (onnx, onnxruntime, or one of their submodules), or an IrtoyError."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise IrtoyError(f"{module} is not installed; irtoy's ONNX support needs it: "
                         f"pip install 'irtoy[onnx]'") from None
