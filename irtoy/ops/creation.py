"""Arrays made from a shape and a value: zeros, ones, full and their *_like forms.

They are constants of the graph (a 0-d value broadcast to the shape, so a large array of
zeros costs nothing to record); only the shape of a traced argument is read.
"""
import numpy as np

from irtoy.ops.movement import broadcast_to
from irtoy.ops.normalize import refuse_options
from irtoy.ops.registry import composite


def _full_like(name, fill):
    filled = "fill_value" if fill is None else fill

    @composite(name, numpy=(getattr(np, name),), doc=f"numpy.{name}: an array shaped as `a`, filled with {filled}")
    def like(a, *args, dtype=None, order=None, subok=None, shape=None, device=None):
        refuse_options(name, order=order if order != "K" else None, shape=shape, device=device)
        value = args[0] if fill is None else fill
        return broadcast_to(np.asarray(value, dtype or np.result_type(a)), np.shape(a))
    return like


zeros_like = _full_like("zeros_like", 0)
ones_like = _full_like("ones_like", 1)
full_like = _full_like("full_like", None)
