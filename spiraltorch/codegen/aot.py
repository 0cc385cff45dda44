"""Ahead-of-time compilation for the `cpu` target: a shared object and `.stpack` artifacts.

    traced module -> kernel module -> LLVM IR -> O3 -> object (reloc=pic) -> `cc -shared` -> lib.so

An artifact is a directory holding manifest.json and the library (the format is documented in
runtime/artifact.py and docs/backend-cpu/artifacts.md); `runtime.load` runs it without the compiler.
A directory rather than a zip: dlopen needs the library as a file on disk, so a zip would be
extracted to a temporary directory on every load (slower, and fragile where /tmp is noexec); a
directory is also what the compile cache renames into place atomically.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

from xdsl.dialects import func

from runtime import artifact as rt
from spiraltorch.codegen import pfor
from spiraltorch.errors import CompileError, UsageError
from spiraltorch.frontend import pytree
from spiraltorch.ir import dtypes


class LinkError(CompileError):
    """The object file could not be linked into a shared object."""


class NoCompilerError(LinkError):
    """No C compiler/linker to turn an object file into a shared object."""


@functools.cache
def find_cc() -> str | None:
    """The C compiler driver used as the linker (cc, gcc or clang on PATH), or None."""
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def require_cc() -> str:
    cc = find_cc()
    if cc is None:
        raise NoCompilerError("no C compiler (cc, gcc or clang) on PATH: cannot link a shared object "
                              "(install one, e.g. `apt-get install gcc`)")
    return cc


# --- signature and output structure -------------------------------------------------------------------
def spiral_function(lowered) -> func.FuncOp:
    return next(op for op in lowered.module.ops if isinstance(op, func.FuncOp))


def _specs(types, names) -> list[dict]:
    out = []
    for t, name in zip(types, names, strict=True):
        out.append({"name": name, "shape": list(dtypes.shape_of(t)), "dtype": rt.dtype_name(dtypes.dtype_of(t).np)})
    return out


def input_names(fn: func.FuncOp) -> list[str]:
    hints = [a.name_hint for a in fn.body.block.args]
    if all(hints) and len(set(hints)) == len(hints):
        return list(hints)
    return [f"in{i}" for i in range(len(hints))]


def output_names(out_tree, n: int) -> list[str]:
    if out_tree is None or out_tree == pytree.LEAF:
        return ["out"] if n == 1 else [f"out{i}" for i in range(n)]
    names = pytree.leaf_paths(pytree.unflatten(out_tree, list(range(n))), "out")
    if len(set(names)) == n and all(re.fullmatch(r"\w+", s) for s in names):
        return names
    return [f"out{i}" for i in range(n)]


def signature(lowered, out_tree=None) -> tuple[list[dict], list[dict]]:
    fn = spiral_function(lowered)
    outs = fn.function_type.outputs.data
    return (_specs(fn.function_type.inputs.data, input_names(fn)),
            _specs(outs, output_names(out_tree, len(outs))))


def encode_tree(td) -> dict:
    """JSON form of an output TreeDef: leaves, None, tuples, lists and dicts with string keys only."""
    if td.kind is None:
        return {"kind": "leaf"}
    if td.kind is type(None):
        return {"kind": "none"}
    children = [encode_tree(c) for c in td.children]
    if td.kind is tuple:
        return {"kind": "tuple", "children": children}
    if td.kind is list:
        return {"kind": "list", "children": children}
    if td.kind is dict:
        bad = [k for k in td.aux if not isinstance(k, str)]
        if bad:
            raise UsageError(f"artifact outputs: dict keys must be strings, got {bad[0]!r}")
        return {"kind": "dict", "keys": list(td.aux), "children": children}
    name = getattr(td.kind, "__name__", str(td.kind))
    raise UsageError(f"artifact outputs: a {name} in the output structure cannot be stored in an artifact "
                     "(only tuples, lists, dicts with string keys and None); return a dict or tuple instead")


def flat_tree(n: int) -> dict:
    """A tuple of n leaves: the out_tree of compile-cache entries (callers keep their own pytree)."""
    return {"kind": "tuple", "children": [{"kind": "leaf"}] * n}


# --- LLVM --------------------------------------------------------------------------------------------
def host_target(cpu: str | None = None):
    """The host target, or (cpu given) the host triple with a named CPU and its default features."""
    from spiraltorch.codegen import mathlib

    host = mathlib.host_target()
    if cpu is None or cpu == "host":
        return host
    return mathlib.Target("host", host.triple, cpu, "")


def kernel_module(lowered):
    from spiraltorch.codegen.cpu_target import kernel_module as km

    return km(lowered)


def host_function(kmod) -> func.FuncOp:
    return next(op for op in kmod.ops if isinstance(op, func.FuncOp) and "spiral.host" in op.attributes)


def llvm_module(kmod, target=None):
    from spiraltorch.codegen import llvm_emitter

    return llvm_emitter.emit_module(kmod, target or host_target())


def optimized_ir(llvm_mod, target=None):
    """The O3-optimized module (a llvmlite.binding ModuleRef; str() of it is the LLVM IR)."""
    from spiraltorch.codegen import mathlib

    ref, _ = mathlib.optimize(llvm_mod, target or host_target())
    return ref


def assembly(llvm_mod, target=None) -> str:
    from spiraltorch.codegen import mathlib

    return mathlib.emit_assembly(llvm_mod, target or host_target())


def object_code(llvm_mod, target=None) -> bytes:
    """Position-independent object code (the middle end is target-independent of the reloc model, so the
    usual O3 pipeline runs first and only code generation uses a PIC target machine)."""
    from spiraltorch.codegen import mathlib

    target = target or host_target()
    ref, _ = mathlib.optimize(llvm_mod, target)
    return mathlib.create_target_machine(target, reloc="pic").emit_object(ref)


def needs_gemm(kmod) -> bool:
    return bool(gemm_symbols(kmod))


def gemm_symbols(kmod) -> list[str]:
    """The GEMM variants (codegen/matmul.py functions, e.g. st_sgemm, st_sgemm_n16) the kernels call."""
    from spiraltorch.ir.kernel_dialect import GemmOp

    return sorted({op.kernel.data for op in kmod.walk() if isinstance(op, GemmOp)})


@functools.cache
def gemm_object(target, symbol: str = "st_sgemm") -> bytes:
    """One GEMM variant (codegen/matmul.py: `matmul.VARIANTS[symbol]`, as kernels/linalg.py lowers for) as PIC
    object code, linked into the library of programs that call it (the JIT resolves it to a per-process
    kernel)."""
    from spiraltorch import cache
    from spiraltorch.codegen import mathlib, matmul

    def build() -> bytes:
        tm = mathlib.create_target_machine(target, reloc="pic")
        mod = matmul.build_module(matmul.VARIANTS[symbol])
        mod.triple = target.triple
        mod.data_layout = str(tm.target_data)
        return tm.emit_object(matmul.optimize(str(mod), tm))

    # ~0.3-0.6 s of LLVM per variant: built once per machine, not once per program
    return cache.cached_object(("gemm", symbol, repr(target)), build)


def link_shared(objs: list[bytes], out_path: str, entry: str = "main", exports: tuple[str, ...] = ()) -> None:
    """`cc -shared` the objects into out_path, exporting only `entry` and `exports` (and linking libm for
    libcalls)."""
    cc = require_cc()
    with tempfile.TemporaryDirectory(prefix="stc-link-") as tmp:
        cmd = [cc, "-shared", "-o", out_path]
        for i, obj in enumerate(objs):
            obj_path = os.path.join(tmp, f"part{i}.o")
            with open(obj_path, "wb") as f:
                f.write(obj)
            cmd.append(obj_path)
        if sys.platform.startswith("linux"):
            # Export the entry only: kernels and trampolines bind locally and cannot clash across models.
            script = os.path.join(tmp, "exports.map")
            with open(script, "w") as f:
                f.write(f"{{ global: {'; '.join((entry, *exports))}; local: *; }};\n")
            cmd += [f"-Wl,--version-script={script}", "-Wl,-z,noexecstack"]
        cmd.append("-lm")
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as err:
            raise NoCompilerError(f"cannot run {cc}: {err}") from None
        if r.returncode != 0:
            msg = " ".join((r.stderr or r.stdout).strip().splitlines()[-3:])
            raise LinkError(f"linking the shared object failed ({os.path.basename(cc)} exited with "
                               f"{r.returncode}): {msg}")


# --- artifacts ---------------------------------------------------------------------------------------------
def _versions() -> dict:
    import llvmlite

    import spiraltorch

    return {"spiraltorch": getattr(spiraltorch, "__version__", "unknown"), "llvmlite": llvmlite.__version__}


def write_artifact(lowered, directory: str, out_tree=None, target=None, kmod=None) -> dict:
    """Compile `lowered` into the existing, empty `directory` (library + manifest.json); returns the manifest.

    out_tree: the output structure for the manifest, a TreeDef or its JSON form such as flat_tree(n)
    (default: lowered.out_tree). kmod: the kernel module, when the caller has it already.
    """
    target = target or host_target()
    tree = out_tree if out_tree is not None else lowered.out_tree
    tree_json = tree if isinstance(tree, dict) else encode_tree(tree)
    inputs, outputs = signature(lowered, None if isinstance(tree, dict) else tree)
    if rt.tree_leaves(tree_json) != len(outputs):
        raise CompileError(f"out_tree has {rt.tree_leaves(tree_json)} leaves for {len(outputs)} outputs")
    kmod = kmod if kmod is not None else kernel_module(lowered)
    host = host_function(kmod)
    workspace = host.function_type.inputs.data[-1].get_shape()[0]
    objs = [object_code(llvm_module(kmod, target), target)]
    objs += [gemm_object(target, symbol) for symbol in gemm_symbols(kmod)]  # every GEMM variant it calls
    from spiraltorch import cache

    # st_pfor & co: the runtime's native parallel-for (codegen/pfor.py), built once per machine
    objs.append(cache.cached_object(("pfor", repr(target)), lambda: pfor.object_code(target)))
    tmp_lib = os.path.join(directory, f".link-{uuid.uuid4().hex}.so")
    link_shared(objs, tmp_lib, host.sym_name.data, pfor.EXPORTS)
    sha = rt.file_sha256(tmp_lib)
    stem = re.sub(r"\W", "_", lowered.func_name) or "program"
    # The content hash in the name keeps dlopen's by-name handle cache from returning an older
    # library that was loaded from the same path in this process.
    lib_file = f"lib{stem}-{sha[:16]}.so"
    os.replace(tmp_lib, os.path.join(directory, lib_file))
    manifest = {
        "format": rt.FORMAT,
        "version": rt.VERSION,
        "entry": host.sym_name.data,
        "name": lowered.func_name,
        "inputs": inputs,
        "outputs": outputs,
        "out_tree": tree_json,
        "workspace_bytes": int(workspace),
        "library": {"file": lib_file, "sha256": sha},
        "target": {"triple": target.triple, "cpu": target.cpu, "features": target.features},
        "compiler": _versions(),
    }
    with open(os.path.join(directory, rt.MANIFEST), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return manifest


def is_artifact_dir(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, rt.MANIFEST))


def save(lowered, path: str, target=None) -> dict:
    """Build an artifact at `path` (replacing an older artifact there, never another kind of file)."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not is_artifact_dir(path):
        raise UsageError(f"'{path}' exists and is not an artifact directory; not overwriting it")
    encode_tree(lowered.out_tree)  # fail on an unsupported output structure before compiling anything
    require_cc()
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".stpack-", dir=parent)
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; an artifact is meant to be shipped
    old = None
    try:
        manifest = write_artifact(lowered, tmp, target=target)
        if os.path.exists(path):
            old = tempfile.mkdtemp(prefix=".stpack-old-", dir=parent)
            os.rename(path, os.path.join(old, "a"))
        os.rename(tmp, path)
        tmp = None
        return manifest
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
