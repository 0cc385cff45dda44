"""`stc`: print traced IR, run pass pipelines like mlir-opt, execute functions on the interpreter, and
compile to native code (`stc kernels`, `stc build` an artifact, `stc run` one through the runtime).

Every error is one line on stderr (`stc: error: ...`) and a non-zero exit; `--traceback` shows the
Python traceback as well.
"""

from __future__ import annotations

import argparse
import sys

from spiraltorch.errors import SpiralError, UsageError

IR_DUMP = "// -----// IR Dump After {name} //----- //"
SPLIT_MARKER = "// -----"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")


def _pipeline_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pipeline", "--passes", dest="pipeline", default="",
                   help="comma-separated passes, e.g. 'canonicalize,cse' (see `stc passes`)")
    p.add_argument("--print-after", action="append", default=[], metavar="PASS",
                   help="print the IR after this pass (repeatable)")
    p.add_argument("--print-after-all", action="store_true", help="print the IR after every pass")
    p.add_argument("-g", "--debuginfo", action="store_true", help="print op locations (loc(...))")
    p.add_argument("--generic", action="store_true", help="print the generic op form")
    p.add_argument("--explain-fusion", action="store_true",
                   help="print to stderr why the fuse pass grouped (or did not group) each op")
    p.add_argument("-o", "--output", default="-", help="output file (default: stdout)")


def build_parser() -> argparse.ArgumentParser:
    from spiraltorch.passes import registry

    passes = "\n".join(f"  {n:<16} {d}" for n, d in registry.descriptions().items())
    parser = argparse.ArgumentParser(prog="stc", description="SpiralTorch compiler driver")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ir", help="trace FILE.py:FUNC and print its SpiralIR",
                       epilog=f"passes:\n{passes}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="FILE.py:FUNC")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=DTYPE[SHAPE]",
                   help="a traced argument, e.g. x=f32[4,8]; NAME=float|int|bool for a Python scalar")
    p.add_argument("--static", action="append", default=[], metavar="NAME=VALUE",
                   help="a static (compile-time) argument given as a Python literal")
    _pipeline_opts(p)
    _common(p)

    p = sub.add_parser("opt", help="parse SpiralIR, verify, run passes, print (like mlir-opt)",
                       epilog=f"passes:\n{passes}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="FILE.mlir", help="input file, or - for stdin")
    p.add_argument("--split-input-file", action="store_true",
                   help=f"treat '{SPLIT_MARKER}' lines as separators of independent inputs; an error in one "
                        "is reported (on stdout) and the next is still processed")
    _pipeline_opts(p)
    _common(p)

    p = sub.add_parser("interp", aliases=["run-interp"], help="run a function on the reference interpreter")
    p.add_argument("target", metavar="FILE.mlir|FILE.py:FUNC")
    p.add_argument("--func", default=None, help="function of a .mlir file to run (default: the first)")
    p.add_argument("--in", dest="inputs", action="append", default=[], metavar="NAME=FILE.npy|LITERAL")
    p.add_argument("--static", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--out", action="append", default=[], metavar="FILE.npy",
                   help="write the outputs (flattened, in order); without it they are printed")
    _common(p)

    p = sub.add_parser("passes", help="list the registered passes")
    _common(p)

    _aot_parsers(sub)
    return parser


def _aot_parsers(sub) -> None:
    """`stc kernels`, `stc build` (compile to a .stpack artifact) and `stc run` (run one, runtime only)."""

    def traced(p):
        p.add_argument("target", metavar="FILE.py:FUNC")
        p.add_argument("--arg", action="append", default=[], metavar="NAME=DTYPE[SHAPE]",
                       help="a traced argument, e.g. x=f32[4,8]; NAME=float|int|bool for a Python scalar")
        p.add_argument("--static", action="append", default=[], metavar="NAME=VALUE",
                       help="a static (compile-time) argument given as a Python literal")
        p.add_argument("--target", dest="backend", default="cpu", metavar="TARGET",
                       help="compile target (only 'cpu' has kernels and artifacts)")
        p.add_argument("--cpu", default="host", metavar="NAME",
                       help="LLVM CPU to compile for (default: this machine's, with all its features); e.g. "
                            "x86-64-v3 for an artifact that runs on any AVX2 machine")

    p = sub.add_parser("kernels", help="compile FILE.py:FUNC and print its LLVM IR (or assembly, or kernel IR)")
    traced(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--asm", action="store_true", help="print the assembly instead")
    what.add_argument("--kernel-ir", action="store_true", help="print the kernel-level MLIR module instead")
    what.add_argument("--unoptimized", action="store_true", help="print the LLVM IR before the O3 pipeline")
    p.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    _common(p)

    p = sub.add_parser("build", help="compile FILE.py:FUNC into a .stpack artifact (see `stc run`, runtime.load)")
    traced(p)
    p.add_argument("-o", "--output", required=True, metavar="MODEL.stpack", help="artifact directory to write")
    _common(p)

    p = sub.add_parser("run", help="run a .stpack artifact through the minimal runtime (no compiler)")
    p.add_argument("artifact", metavar="MODEL.stpack")
    p.add_argument("--in", dest="inputs", action="append", default=[], metavar="NAME=FILE.npy|LITERAL",
                   help="an input by name; repeat for each")
    p.add_argument("--out", action="append", default=[], metavar="FILE.npy",
                   help="write the outputs (flattened, in order); without it they are printed")
    _common(p)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (SpiralError, OSError) as err:
        if args.traceback:
            raise
        print(f"stc: error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # a bug in stc: still one line, and a way to see more
        if args.traceback:
            raise
        print(f"stc: internal error: {type(err).__name__}: {err} (rerun with --traceback)", file=sys.stderr)
        return 2


def _dispatch(args) -> int:
    from spiraltorch.cli import commands

    return {"ir": commands.cmd_ir, "opt": commands.cmd_opt, "interp": commands.cmd_interp,
            "run-interp": commands.cmd_interp, "passes": commands.cmd_passes, "kernels": commands.cmd_kernels,
            "build": commands.cmd_build, "run": commands.cmd_run}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "build_parser", "UsageError"]
