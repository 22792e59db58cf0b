"""The errors irtoy raises.

Every error a user can cause derives from `IrtoyError`, so one `except` catches them all, and
each says what went wrong in the user's terms: the op, the shapes, and the line of their own
code that created the node (recorded at trace time as the node's `src`).
"""


class IrtoyError(Exception):
    """Base class of every error irtoy raises on purpose."""


class TraceError(IrtoyError):
    """User code did something that cannot be recorded into a graph."""


class ShapeError(IrtoyError, ValueError):
    """Shapes or dtypes do not fit: an op's arguments, or a compiled function's inputs."""


class GraphError(IrtoyError):
    """A graph breaks the IR's invariants (found by the graph checker)."""


class IntegerPowerError(IrtoyError, ValueError):
    """An integer raised to a negative integer power, found when the code ran: NumPy's
    ValueError (which the interpreter raises), naming the node and the user's line."""


class RenderError(IrtoyError):
    """A drawing could not be produced (usually: the graphviz `dot` program is missing)."""


def located(src):
    """The ' (at file:line)' suffix errors append when the node's source line is known."""
    return f"\n  at {src}" if src else ""
