"""The `irtoy` command line: `irtoy <command> [options]`, also `python -m irtoy`.

Each command is one entry of COMMANDS: a help line, a function that adds its options to an
argparse parser, and a function that runs it and returns the exit code. Errors irtoy raises
on purpose end the command with a one-line message and exit code 1.
"""
import argparse
import sys

from irtoy.errors import IrtoyError


def add_bench_options(parser):
    parser.add_argument("cases", nargs="*", metavar="case",
                        help="cases to run: B1 B1-small B2 B3 B4 B5 (default: all)")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="about how long to time each contender per case (default 1)")


def run_bench(args):
    from irtoy.benchmarks import suite
    suite.run(args.cases or None, seconds=args.seconds)
    return 0


def add_demo_options(parser):
    parser.add_argument("--out", default="irtoy-report", help="folder for the report (default irtoy-report)")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    parser.add_argument("--backend", default="numba", help="backend for training (default numba)")


def run_demo(args):
    from irtoy import demo
    demo.run(args.out, epochs=args.epochs, backend=args.backend)
    return 0


def add_target_options(parser):
    parser.add_argument("target", help="the function to trace, as FILE.py:FUNCTION")
    parser.add_argument("--spec", action="append", default=[], metavar="SPEC",
                        help="an argument's type, like 'f32[4,6]', once per argument (default: the file's "
                             "example_args_FUNCTION or example_args)")
    parser.add_argument("--grad", choices=("auto", "yes", "no"), default="auto",
                        help="also differentiate with respect to the first argument (auto: when the "
                             "function returns one float)")


def traced_target(args):
    """The traced (and maybe differentiated) target, and concrete arguments if the file gave them."""
    import irtoy
    from irtoy.targets import describe_exception, load_target
    fn, example = load_target(args.target, args.spec)
    try:
        traced = irtoy.trace(fn, *example)
    except IrtoyError:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as e:
        raise IrtoyError(f"{args.target} failed while being traced: {describe_exception(e)}") from None
    out = traced.graph.spec(traced.graph.outputs[0]) if len(traced.graph.outputs) == 1 else None
    scalar_float = out is not None and out.shape == () and out.dtype.kind == "f"
    if args.grad == "yes" or (args.grad == "auto" and scalar_float and traced.arg_names):
        traced = traced.value_and_grad(wrt=0)
    concrete = not any(isinstance(a, irtoy.Spec) for a in irtoy.pytree.flatten(list(example))[0])
    return traced, (list(example) if concrete else None)


def add_report_options(parser):
    add_target_options(parser)
    parser.add_argument("--out", default="irtoy-report", help="folder to write index.html into")


def run_report(args):
    from irtoy.report import report
    traced, example = traced_target(args)
    print(report(traced, args.out, args=example))
    return 0


def add_render_options(parser):
    add_target_options(parser)
    parser.add_argument("--stage", default=None, help="which stage to draw (default: the last one)")
    parser.add_argument("-o", "--output", required=True, help="the drawing: .svg, .png, .pdf or .dot")
    parser.add_argument("--rankdir", default="TB", choices=("TB", "LR", "BT", "RL"), help="layout direction")


def run_render(args):
    traced, _ = traced_target(args)
    stage = args.stage or list(traced.stages)[-1]
    if stage in traced.stages:
        path = traced.render(args.output, stage=stage, rankdir=args.rankdir)
    else:
        compiled = traced.compile("numba" if stage == "fused" else "numpy")
        if stage not in compiled.stages:
            raise IrtoyError(f"no stage {stage!r}; the stages are {', '.join(compiled.stages)} (fused: numba)")
        path = compiled.render(args.output, stage=stage, rankdir=args.rankdir)
    print(path)
    return 0


def add_ops_options(parser):
    parser.add_argument("--markdown", action="store_true", help="print the Markdown page docs/numpy.md")


def run_ops(args):
    from irtoy import supported
    print(supported.markdown() if args.markdown else supported.text(), end="\n" * (not args.markdown))
    return 0


COMMANDS = {
    "demo": ("train a small model, print the speed table and write the compile report",
             add_demo_options, run_demo),
    "report": ("write the compile report (every stage, source, profile, speed) of FILE.py:FUNCTION",
               add_report_options, run_report),
    "render": ("draw one stage of FILE.py:FUNCTION with graphviz", add_render_options, run_render),
    "bench": ("time the built-in cases on NumPy, the interpreter and numba", add_bench_options, run_bench),
    "ops": ("list every NumPy function irtoy traces, and the op or composition it becomes", add_ops_options,
            run_ops),
}


def parser():
    top = argparse.ArgumentParser(prog="irtoy", description="irtoy: a small deep-learning compiler you can read.")
    commands = top.add_subparsers(dest="command", metavar="command", required=True)
    for name, (help_line, add_options, _) in COMMANDS.items():
        add_options(commands.add_parser(name, help=help_line, description=help_line))
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except IrtoyError as e:
        message = " ".join(line.strip() for line in str(e).splitlines())    # one line, location kept
        print(f"irtoy {args.command}: {message}", file=sys.stderr)
        return 1
