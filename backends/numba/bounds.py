"""Every index a generated loop kernel can use, checked against its buffers' shapes.

Kernels run without bounds checks, so an index expression that leaves its buffer reads
garbage or corrupts the heap, often without changing any result a test looks at. In debug
mode (plan.py) each kernel's code is checked once, when it is generated: its body is parsed,
each loop variable `ik` takes the range [0, domain[k] - 1] inside its loop, and every
subscript of a parameter array (`a0[...]`, `o1[...]`, `acc0[...]`) must have one index per
axis whose smallest and largest values (interval arithmetic on the affine expressions
kernels.py writes) stay inside that axis. A position read from an index array is bounded by
the check that follows its reading (`if not 0 <= p0 < 5: raise ...`). An index the checker
cannot bound is refused too, so the kernels stay checkable.
"""
import ast

from irtoy.backends.numba.kernels import Code
from irtoy.backends.numba.lowering import LoweringError


def check_kernel_indices(graph, kernel, code):
    """Raise LoweringError, naming the kernel, the buffer and the index, if some load or
    store of `code` (kernels.KernelCode of fusion kernel `kernel`) can leave its buffer."""
    shapes, sizes = {}, {}
    for (role, x), name in zip(code.params, code.param_names):
        if role == "size":
            sizes[name] = kernel.domain[x]
        else:                   # inputs, outputs and arrays of accumulators
            shapes[name] = tuple(graph[x]["shape"])
    source = "\n".join("    " * line.depth + line.text for line in code.body if isinstance(line, Code))
    tree = ast.parse("def kernel():\n" + source)
    _Checker(graph, kernel, shapes, sizes).visit_body(tree.body[0].body, {})


class _Checker:
    def __init__(self, graph, kernel, shapes, sizes):
        self.graph, self.kernel = graph, kernel
        self.shapes, self.sizes = shapes, sizes

    def visit_body(self, statements, ranges):
        ranges = dict(ranges)
        for statement in statements:
            if isinstance(statement, ast.For):
                self.check_expression(statement.iter, ranges)
                inner = dict(ranges)
                inner[statement.target.id] = self.loop_range(statement.iter)
                self.visit_body(statement.body, inner)
            elif isinstance(statement, ast.If):
                self.check_expression(statement.test, ranges)
                self.visit_body(statement.body, ranges)
                self.visit_body(statement.orelse, ranges)
                ranges.update(_checked_range(statement))
            else:
                self.check_expression(statement, ranges)

    def loop_range(self, call):
        (size,) = call.args
        n = self.sizes[size.id] if isinstance(size, ast.Name) else size.value
        return (0, n - 1)

    def check_expression(self, tree, ranges):
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                    and node.value.id in self.shapes:
                self.check_subscript(node, ranges)

    def check_subscript(self, node, ranges):
        name, shape = node.value.id, self.shapes[node.value.id]
        index = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(index) == 1 and isinstance(index[0], ast.Constant) and index[0].value is Ellipsis:
            return
        if len(index) != len(shape):
            self.fail(name, shape, node, f"{len(index)} indices for {len(shape)} axes")
        for axis, (part, length) in enumerate(zip(index, shape)):
            low, high = self.bounds(part, ranges, name, shape, node)
            if low < 0 or high >= length:
                self.fail(name, shape, node, f"axis {axis} of length {length} is indexed from {low} to {high}")

    def bounds(self, part, ranges, name, shape, node):
        """The smallest and largest value of index expression `part` inside its loops."""
        if isinstance(part, ast.Constant) and isinstance(part.value, int):
            return part.value, part.value
        if isinstance(part, ast.Name) and part.id in ranges:
            return ranges[part.id]
        if isinstance(part, ast.Name) and part.id in self.sizes:
            return self.sizes[part.id], self.sizes[part.id]
        if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub):
            low, high = self.bounds(part.operand, ranges, name, shape, node)
            return -high, -low
        if isinstance(part, ast.BinOp) and isinstance(part.op, (ast.Add, ast.Sub, ast.Mult)):
            a = self.bounds(part.left, ranges, name, shape, node)
            b = self.bounds(part.right, ranges, name, shape, node)
            if isinstance(part.op, ast.Add):
                return a[0] + b[0], a[1] + b[1]
            if isinstance(part.op, ast.Sub):
                return a[0] - b[1], a[1] - b[0]
            products = [x * y for x in a for y in b]
            return min(products), max(products)
        self.fail(name, shape, node, f"index {ast.unparse(part)!r} is not an affine expression of "
                                     f"the loop variables in scope")

    def fail(self, name, shape, node, why):
        raise LoweringError(
            f"generated loop {self.kernel.describe(self.graph)} indexes its "
            f"buffer {name} of shape {list(shape)} out of bounds: `{ast.unparse(node)}`: {why}. "
            f"This is a bug in irtoy's numba backend; backend='numpy' runs the same graph")


def _checked_range(statement):
    """{name: (0, n - 1)} after `if not 0 <= name < n: raise ...`, the check kernels write
    after reading a position from an index array; else {}."""
    test = statement.test
    if not (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Compare)
            and len(statement.body) == 1 and isinstance(statement.body[0], ast.Raise) and not statement.orelse):
        return {}
    compare = test.operand
    parts = [compare.left] + compare.comparators
    if [type(o) for o in compare.ops] != [ast.LtE, ast.Lt] or not isinstance(parts[1], ast.Name) \
            or not all(isinstance(p, ast.Constant) and isinstance(p.value, int) for p in (parts[0], parts[2])):
        return {}
    return {parts[1].id: (parts[0].value, parts[2].value - 1)}
