"""The `stc` subcommands."""

from __future__ import annotations

import sys

import numpy as np

from spiraltorch.cli import argspec, loader
from spiraltorch.cli.main import IR_DUMP, SPLIT_MARKER
from spiraltorch.errors import SpiralError, UsageError


class _Out:
    """Collects text for stdout or -o FILE."""

    def __init__(self, path: str):
        self.path = path
        self.parts: list[str] = []

    def write(self, s: str) -> None:
        self.parts.append(s)

    def close(self) -> None:
        data = "".join(self.parts)
        if self.path == "-":
            sys.stdout.write(data)
        else:
            with open(self.path, "w") as f:
                f.write(data)


def _run_pipeline(module, args, out: _Out):
    from spiraltorch.ir import text
    from spiraltorch.passes.registry import PipelineRun

    def printer(op):
        return (text.to_text(op, debuginfo=args.debuginfo, generic=args.generic))
    wanted = set(args.print_after) | ({"all"} if args.print_after_all else set())

    def dump(name, mod):
        out.write(IR_DUMP.format(name=name) + "\n" + printer(mod) + "\n")

    if getattr(args, "explain_fusion", False):
        import os

        topics = [t for t in os.environ.get("SPIRAL_LOG", "").split(",") if t]
        os.environ["SPIRAL_LOG"] = ",".join([*topics, "fusion"])

    spec = args.pipeline
    if wanted and not spec:  # `stc ir f.py:g --print-after autodiff`: the passes the cpu target runs
        from spiraltorch.codegen.cpu_target import pipeline

        spec = pipeline()
    names = {p.split("{")[0].strip() for p in spec.split(",") if p.strip()}
    from spiraltorch.passes.registry import descriptions

    missing = sorted((wanted & set(descriptions())) - names)
    if missing:
        raise UsageError(f"--print-after {', '.join(missing)}: the pipeline '{spec}' does not run it")
    PipelineRun(spec, wanted, dump).run(module)
    if not wanted:
        out.write(printer(module))


# --- stc ir ---------------------------------------------------------------------------------------
def _call_args(fn, arg_specs, static_specs):
    """Positional argument list for fn from --arg/--static (by parameter name)."""
    given = dict(arg_specs)
    given.update(static_specs)
    names = loader.parameter_names(fn)
    unknown = set(given) - set(names)
    if unknown:
        raise UsageError(f"{', '.join(sorted(unknown))}: not a parameter of the function ({', '.join(names)})")
    missing = [n for n in names if n not in given]
    if missing:
        raise UsageError(f"missing argument(s) {', '.join(missing)}: pass --arg NAME=DTYPE[SHAPE] for each")
    return [given[n] for n in names]


def cmd_ir(args) -> int:
    fn = loader.load_function(args.target)
    compiled = loader.compiled(fn)
    values = _call_args(compiled, [argspec.parse_arg(a) for a in args.arg],
                        [argspec.parse_static(s) for s in args.static])
    static_names = {argspec.parse_static(s)[0] for s in args.static}
    compiled = _with_statics(compiled, static_names)
    lowered = compiled.lower(*values)
    out = _Out(args.output)
    _run_pipeline(lowered.module, args, out)
    out.close()
    return 0


def _with_statics(compiled, static_names):
    """Mark --static parameters as static_argnums on top of the user's own settings."""
    if not static_names:
        return compiled
    from spiraltorch.frontend.api import CompiledFunction

    names = loader.parameter_names(compiled)
    nums = set(compiled.static_argnums) | {names.index(n) for n in static_names}
    return CompiledFunction(compiled.fn, compiled.target, sorted(nums), compiled.static_argnames)


# --- stc opt --------------------------------------------------------------------------------------
def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path) as f:
            return f.read()
    except OSError as err:
        raise UsageError(f"cannot read '{path}': {err.strerror}") from None


def _chunks(source: str, split: bool):
    """(first line number, text) of each input; line numbers stay true to the whole file."""
    if not split:
        return [(1, source)]
    chunks, start, current = [], 1, []
    for i, line in enumerate(source.splitlines(keepends=True), 1):
        if line.strip() == SPLIT_MARKER:
            chunks.append((start, "".join(current)))
            start, current = i + 1, []
        else:
            current.append(line)
    chunks.append((start, "".join(current)))
    return chunks


def cmd_opt(args) -> int:
    from spiraltorch.ir import text

    source = _read(args.input)
    name = "<stdin>" if args.input == "-" else args.input
    out = _Out(args.output)
    failed = False
    for n, (first_line, chunk) in enumerate(_chunks(source, args.split_input_file)):
        if n:
            out.write(SPLIT_MARKER + "\n")
        padded = "\n" * (first_line - 1) + chunk  # keep file line numbers in messages
        try:
            _run_pipeline(text.parse(padded, name), args, out)
        except SpiralError as err:
            if not args.split_input_file:
                raise
            failed = True
            out.write(f"error: {err}\n")
    out.close()
    return 1 if failed else 0


# --- stc interp -----------------------------------------------------------------------------------
def cmd_interp(args) -> int:
    inputs = [argspec.parse_input(s) for s in args.inputs]
    if args.target.endswith(".mlir") or args.target == "-":
        outputs = _interp_mlir(args, inputs)
    else:
        outputs = _interp_py(args, inputs)
    _emit_outputs(outputs, args.out)
    return 0


def _interp_mlir(args, inputs):
    from xdsl.dialects import func

    from spiraltorch.interp.interpreter import run_module
    from spiraltorch.ir import dtypes, text

    module = text.parse(_read(args.target), args.target)
    funcs = {op.sym_name.data: op for op in module.ops if isinstance(op, func.FuncOp)}
    name = args.func or next(iter(funcs), None)
    if name not in funcs:
        raise UsageError(f"no function '{name}' in {args.target} (has: {', '.join(funcs) or 'none'})")
    fn = funcs[name]
    hints = [a.name_hint for a in fn.body.block.args]
    given = dict(inputs)
    if set(given) <= set(hints):
        ordered = [given.get(h) for h in hints]
    else:
        ordered = [v for _, v in inputs]
    if len(ordered) != len(hints) or any(v is None for v in ordered):
        raise UsageError(f"@{name} takes {len(hints)} input(s) ({', '.join(h or '?' for h in hints)}); "
                         f"got {len(inputs)}")
    arrays = []
    for v, arg in zip(ordered, fn.body.block.args, strict=True):
        want = dtypes.shape_of(arg.type), dtypes.dtype_of(arg.type).np
        a = np.asarray(v, dtype=want[1])
        if a.shape != want[0]:
            raise UsageError(f"input %{arg.name_hint} must have shape {want[0]}, got {a.shape}")
        arrays.append(a)
    return list(run_module(module, arrays, name))


def _interp_py(args, inputs):
    from spiraltorch.frontend import pytree

    fn = loader.compiled(loader.load_function(args.target))
    statics = [argspec.parse_static(s) for s in args.static]
    fn = loader.compiled(_with_statics(fn, {n for n, _ in statics}))
    interp_fn = type(fn)(fn.fn, "interp", fn.static_argnums, fn.static_argnames)
    values = _call_args(fn, inputs, statics)
    leaves, _ = pytree.flatten(interp_fn(*values))
    return leaves


def _emit_outputs(outputs, paths):
    if paths and len(paths) != len(outputs):
        raise UsageError(f"the function has {len(outputs)} output(s) but {len(paths)} --out file(s) were given")
    for i, value in enumerate(outputs):
        if paths:
            np.save(paths[i], np.asarray(value), allow_pickle=False)
        else:
            with np.printoptions(precision=6, suppress=True, threshold=200):
                print(f"output {i}: {np.asarray(value).dtype}{list(np.shape(value))}\n{np.asarray(value)}")


# --- stc passes -----------------------------------------------------------------------------------
def cmd_passes(args) -> int:
    from spiraltorch.passes import registry

    for name, desc in registry.descriptions().items():
        print(f"{name:<16} {desc}")
    return 0


# --- stc kernels / build / run (the cpu target's native code and artifacts) -------------------------------------
def _lower_traced(args):
    """Trace FILE.py:FUNC with --arg/--static for `stc kernels` and `stc build` (cpu target only)."""
    if args.backend != "cpu":
        raise UsageError(f"--target {args.backend}: only the 'cpu' target compiles to native kernels and artifacts")
    fn = loader.compiled(loader.load_function(args.target))
    statics = [argspec.parse_static(s) for s in args.static]
    compiled = _with_statics(fn, {n for n, _ in statics})
    values = _call_args(compiled, [argspec.parse_arg(a) for a in args.arg], statics)
    return compiled.lower(*values)


def _aot_target(args):
    from spiraltorch.codegen import aot

    return aot.host_target(None if args.cpu == "host" else args.cpu)


def cmd_kernels(args) -> int:
    from spiraltorch.codegen import aot
    from spiraltorch.ir import text

    lowered = _lower_traced(args)
    kmod = aot.kernel_module(lowered)
    out = _Out(args.output)
    if args.kernel_ir:
        out.write(text.to_text(kmod))
    else:
        target = _aot_target(args)
        llvm_mod = aot.llvm_module(kmod, target)
        if args.asm:
            out.write(aot.assembly(llvm_mod, target))
        elif args.unoptimized:
            out.write(str(llvm_mod))
        else:
            out.write(str(aot.optimized_ir(llvm_mod, target)))
    out.close()
    return 0


def cmd_build(args) -> int:
    from spiraltorch.codegen import aot

    lowered = _lower_traced(args)
    manifest = aot.save(lowered, args.output, target=_aot_target(args))
    sig = ", ".join(f"{i['name']}: {i['dtype']}[{','.join(map(str, i['shape']))}]" for i in manifest["inputs"])
    print(f"wrote {args.output}: {manifest['name']}({sig}) -> {len(manifest['outputs'])} output(s), "
          f"{manifest['library']['file']}")
    return 0


def cmd_run(args) -> int:
    import runtime

    try:
        model = runtime.load(args.artifact)
        inputs = {}
        for spec in args.inputs:
            name, value = argspec.parse_input(spec)
            # .npy arrays must have the input's dtype; literals take it (like numpy's weak scalars)
            literal = not spec.partition("=")[2].endswith(".npy")
            inputs[name] = value.tolist() if literal and isinstance(value, np.ndarray) else value
        outputs = model.call_flat(**inputs)
    except runtime.ArtifactError as err:
        raise UsageError(str(err)) from None
    _emit_outputs(outputs, args.out)
    return 0
