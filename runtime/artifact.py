"""Loading and calling `.stpack` artifacts (a directory with manifest.json and a shared object).

This module imports nothing of the compiler: a shipped model needs numpy (and ml_dtypes for bfloat16
tensors only), never spiraltorch, xdsl or llvmlite. Everything that can be wrong with an artifact
(unreadable manifest, missing field, unknown format, missing or tampered library, a CPU without the
instructions it was built for) and every bad call (count, names, shapes, dtypes) raises ArtifactError
with one readable line.

Manifest (format "spiraltorch-artifact", version 1):

    {"format", "version", "entry": "main", "name",
     "inputs":  [{"name", "shape": [d0, ...], "dtype": "float32"}, ...],
     "outputs": [...same...],
     "out_tree": {"kind": "leaf"} | {"kind": "none"} | {"kind": "tuple"|"list", "children": [...]}
                 | {"kind": "dict", "keys": ["a", ...], "children": [...]},
     "workspace_bytes", "library": {"file", "sha256"}, "target": {"triple", "cpu", "features"},
     "compiler": {"spiraltorch", "llvmlite"}}

The entry point is `void main(in0*, ..., out0*, ..., workspace*, pfor*)` (see runtime.program).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import sys

import numpy as np

from runtime import parallel
from runtime.program import Program, TensorSpec

FORMAT = "spiraltorch-artifact"
VERSION = 1
MANIFEST = "manifest.json"

# dtype names in manifests are numpy's; bfloat16 comes from ml_dtypes, imported only when needed.
DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "bool")


class ArtifactError(Exception):
    """A malformed, tampered or incompatible artifact, or a call that does not match its signature."""


def np_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def dtype_name(dt) -> str:
    """The manifest name of a numpy dtype (inverse of np_dtype)."""
    dt = np.dtype(dt)
    name = "bool" if dt == np.bool_ else dt.name
    if name not in DTYPES:
        raise ArtifactError(f"dtype {dt} cannot be stored in an artifact")
    return name


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# --- output pytrees -----------------------------------------------------------------------------------
def tree_leaves(node) -> int:
    kind = node["kind"]
    if kind == "leaf":
        return 1
    if kind == "none":
        return 0
    return sum(tree_leaves(c) for c in node["children"])


def unflatten(node, leaves):
    it = iter(leaves)
    return _unflatten(node, it)


def _unflatten(node, it):
    kind = node["kind"]
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    children = [_unflatten(c, it) for c in node["children"]]
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    return dict(zip(node["keys"], children, strict=True))


def _check_tree(node, where: str) -> None:
    if not isinstance(node, dict) or not isinstance(node.get("kind"), str):
        raise ArtifactError(f"{where}: out_tree node must be an object with a 'kind'")
    kind = node["kind"]
    if kind in ("leaf", "none"):
        return
    if kind not in ("tuple", "list", "dict"):
        raise ArtifactError(f"{where}: unknown out_tree node kind {kind!r}")
    children = node.get("children")
    if not isinstance(children, list):
        raise ArtifactError(f"{where}: out_tree {kind} node needs a 'children' list")
    if kind == "dict":
        keys = node.get("keys")
        if not isinstance(keys, list) or len(keys) != len(children) or not all(isinstance(k, str) for k in keys):
            raise ArtifactError(f"{where}: out_tree dict node needs 'keys', one string per child")
    for c in children:
        _check_tree(c, where)


# --- manifest validation --------------------------------------------------------------------------------
def _field(obj: dict, key: str, types, where: str):
    if key not in obj:
        raise ArtifactError(f"{where}: manifest.json has no '{key}' field")
    value = obj[key]
    if not isinstance(value, types) or (types is int and isinstance(value, bool)):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise ArtifactError(f"{where}: manifest field '{key}' must be {names}, got {type(value).__name__}")
    return value


def _tensor_specs(manifest: dict, key: str, where: str) -> list[tuple[str, TensorSpec]]:
    out = []
    for i, entry in enumerate(_field(manifest, key, list, where)):
        if not isinstance(entry, dict):
            raise ArtifactError(f"{where}: {key}[{i}] must be an object with name, shape and dtype")
        name = _field(entry, "name", str, f"{where}: {key}[{i}]")
        shape = _field(entry, "shape", list, f"{where}: {key}[{i}]")
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ArtifactError(f"{where}: {key}[{i}] ('{name}') has a bad shape {shape}")
        dt = _field(entry, "dtype", str, f"{where}: {key}[{i}]")
        if dt not in DTYPES:
            raise ArtifactError(f"{where}: {key}[{i}] ('{name}') has unknown dtype {dt!r}")
        out.append((name, TensorSpec(tuple(shape), np_dtype(dt))))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ArtifactError(f"{where}: {key} has duplicate names")
    return out


def read_manifest(path: str) -> dict:
    """Parse and validate `path`/manifest.json (structure only; the library is checked by load)."""
    where = str(path)
    mpath = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise ArtifactError(f"{where}: not an artifact directory" if os.path.exists(path)
                            else f"{where}: no such artifact")
    try:
        with open(mpath, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise ArtifactError(f"{where}: cannot read {MANIFEST}: {err.strerror}") from None
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{where}: {MANIFEST} is not valid JSON ({err})") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{where}: {MANIFEST} must hold a JSON object")
    fmt = _field(manifest, "format", str, where)
    if fmt != FORMAT:
        raise ArtifactError(f"{where}: unknown artifact format {fmt!r} (expected {FORMAT!r})")
    version = _field(manifest, "version", int, where)
    if version != VERSION:
        raise ArtifactError(f"{where}: artifact format version {version} is not supported (this runtime reads "
                            f"version {VERSION}); rebuild it with a matching spiraltorch")
    entry = _field(manifest, "entry", str, where)
    if not re.fullmatch(r"[A-Za-z_]\w*", entry):
        raise ArtifactError(f"{where}: bad entry symbol {entry!r}")
    manifest["_inputs"] = _tensor_specs(manifest, "inputs", where)
    manifest["_outputs"] = _tensor_specs(manifest, "outputs", where)
    tree = _field(manifest, "out_tree", dict, where)
    _check_tree(tree, where)
    if tree_leaves(tree) != len(manifest["_outputs"]):
        raise ArtifactError(f"{where}: out_tree has {tree_leaves(tree)} leaves but there are "
                            f"{len(manifest['_outputs'])} outputs")
    ws = _field(manifest, "workspace_bytes", int, where)
    if ws < 0:
        raise ArtifactError(f"{where}: workspace_bytes must be >= 0")
    lib = _field(manifest, "library", dict, where)
    lib_file = _field(lib, "file", str, where)
    if os.path.basename(lib_file) != lib_file or lib_file in ("", ".", ".."):
        raise ArtifactError(f"{where}: library file {lib_file!r} must be a plain file name inside the artifact")
    sha = _field(lib, "sha256", str, where)
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ArtifactError(f"{where}: library sha256 must be 64 lowercase hex digits")
    target = _field(manifest, "target", dict, where)
    for key in ("triple", "cpu", "features"):
        _field(target, key, str, where)
    _field(manifest, "compiler", dict, where)
    return manifest


# --- host compatibility ------------------------------------------------------------------------------------
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
# LLVM x86 feature -> /proc/cpuinfo flag, for the features whose absence would crash with SIGILL.
_X86_FLAGS = {
    "avx": "avx", "avx2": "avx2", "fma": "fma", "f16c": "f16c", "bmi": "bmi1", "bmi2": "bmi2",
    "sse4.1": "sse4_1", "sse4.2": "sse4_2", "avx512f": "avx512f", "avx512bw": "avx512bw",
    "avx512dq": "avx512dq", "avx512vl": "avx512vl", "avx512cd": "avx512cd", "avx512bf16": "avx512_bf16",
    "avx512fp16": "avx512_fp16", "avx512vnni": "avx512_vnni", "avx512vbmi": "avx512vbmi",
}


def _cpu_flags() -> set[str] | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return None


def check_host(target: dict, where: str) -> None:
    """Refuse an artifact built for another architecture or OS, or (x86 Linux) for missing ISA extensions."""
    triple = target["triple"]
    arch = triple.split("-")[0]
    machine = os.uname().machine.lower() if hasattr(os, "uname") else sys.platform
    host_arch = _ARCH.get(machine, machine)
    if _ARCH.get(arch, arch) != host_arch:
        raise ArtifactError(f"{where}: built for {triple}, but this machine is {host_arch}")
    if sys.platform.startswith("linux") and "linux" not in triple:
        raise ArtifactError(f"{where}: built for {triple}, but this machine runs Linux")
    if host_arch != "x86_64" or not sys.platform.startswith("linux"):
        return
    flags = _cpu_flags()
    if flags is None:
        return
    wanted = [f[1:] for f in target["features"].split(",") if f.startswith("+")]
    missing = [f for f in wanted if f in _X86_FLAGS and _X86_FLAGS[f] not in flags]
    if missing:
        raise ArtifactError(f"{where}: built for CPU '{target['cpu']}' and needs {', '.join(missing)}, which this "
                            "CPU lacks; rebuild it for this machine (or with `stc build --cpu x86-64-v2`)")


# --- loading and calling ------------------------------------------------------------------------------------
def _lib_address(lib_path: str, entry: str, where: str):
    try:
        lib = ctypes.CDLL(lib_path)
    except OSError as err:
        raise ArtifactError(f"{where}: cannot load {os.path.basename(lib_path)}: {err}") from None
    try:
        fn = getattr(lib, entry)
    except AttributeError:
        raise ArtifactError(f"{where}: {os.path.basename(lib_path)} has no entry symbol '{entry}'") from None
    return lib, ctypes.cast(fn, ctypes.c_void_p).value


class Artifact:
    """A loaded artifact: call it with the inputs (positionally, or by name) to get the outputs."""

    def __init__(self, path: str, manifest: dict, program: Program):
        self.path = path
        self.manifest = manifest
        self.program = program
        self.name = manifest.get("name", "main")
        self.input_names = [n for n, _ in manifest["_inputs"]]
        self.output_names = [n for n, _ in manifest["_outputs"]]
        self.out_tree = manifest["out_tree"]
        self._single = self.out_tree == {"kind": "leaf"}

    @property
    def inputs(self) -> list[TensorSpec]:
        return self.program.inputs

    @property
    def outputs(self) -> list[TensorSpec]:
        return self.program.outputs

    def __repr__(self) -> str:
        sig = ", ".join(f"{n}: {_fmt(s)}" for n, s in zip(self.input_names, self.inputs, strict=True))
        return f"<spiraltorch artifact {self.name}({sig}) from {self.path}>"

    def bind(self, args, kwargs) -> list[np.ndarray]:
        """Validated, contiguous arrays in the entry's input order."""
        n = len(self.input_names)
        if len(args) > n:
            raise ArtifactError(f"{self.name} takes {n} input(s) ({', '.join(self.input_names)}); got {len(args)}")
        values = list(args) + [None] * (n - len(args))
        for key, value in kwargs.items():
            if key not in self.input_names:
                raise ArtifactError(f"{self.name} has no input '{key}' (inputs: {', '.join(self.input_names)})")
            i = self.input_names.index(key)
            if i < len(args):
                raise ArtifactError(f"{self.name}: input '{key}' given both by position and by name")
            values[i] = value
        missing = [name for name, v in zip(self.input_names, values, strict=True) if v is None]
        if missing:
            raise ArtifactError(f"{self.name}: missing input(s) {', '.join(missing)} "
                                f"(takes {', '.join(self.input_names)})")
        return [self._check(name, v, spec) for name, v, spec in zip(self.input_names, values, self.inputs,
                                                                     strict=True)]

    def _check(self, name: str, value, spec: TensorSpec) -> np.ndarray:
        if isinstance(value, (np.ndarray, np.generic)):
            if value.dtype != spec.dtype:
                raise ArtifactError(f"{self.name}: input '{name}' must be {dtype_name(spec.dtype)}, got {value.dtype}")
            arr = np.asarray(value)
        else:  # Python scalars and nested lists take the input's dtype, like numpy's weak scalars
            try:
                arr = np.asarray(value, dtype=spec.dtype)
            except (TypeError, ValueError) as err:
                raise ArtifactError(f"{self.name}: input '{name}' cannot be converted to "
                                    f"{dtype_name(spec.dtype)}: {err}") from None
        if arr.shape != spec.shape:
            raise ArtifactError(f"{self.name}: input '{name}' must have shape {spec.shape}, got {arr.shape}")
        return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)

    def call_flat(self, *args, **kwargs) -> list[np.ndarray]:
        """The outputs as a flat list (in manifest order), without rebuilding out_tree."""
        return self.program.call_arrays(self.bind(args, kwargs))

    def __call__(self, *args, **kwargs):
        outs = self.program.call_arrays(self.bind(args, kwargs))
        return outs[0] if self._single else unflatten(self.out_tree, outs)


def _fmt(spec: TensorSpec) -> str:
    return f"{dtype_name(spec.dtype)}[{','.join(map(str, spec.shape))}]"


def verify(path) -> dict:
    """Everything load checks short of loading the library (manifest, host, library hash); returns the
    manifest. Never changes a library in place: a loaded one that is truncated kills its process."""
    path = os.fspath(path)
    manifest = read_manifest(path)
    check_host(manifest["target"], path)
    lib_file = manifest["library"]["file"]
    lib_path = os.path.abspath(os.path.join(path, lib_file))
    if not os.path.isfile(lib_path):
        raise ArtifactError(f"{path}: library {lib_file} is missing")
    try:
        digest = file_sha256(lib_path)
    except OSError as err:
        raise ArtifactError(f"{path}: cannot read library {lib_file}: {err.strerror}") from None
    if digest != manifest["library"]["sha256"]:
        raise ArtifactError(f"{path}: library {lib_file} does not match the sha256 in {MANIFEST} "
                            "(tampered or corrupt); refusing to load it")
    manifest["_library_path"] = lib_path
    return manifest


def load(path) -> Artifact:
    """Load an artifact directory (`stc build` output) after validating its manifest and library hash."""
    path = os.fspath(path)
    manifest = verify(path)
    lib, address = _lib_address(manifest["_library_path"], manifest["entry"], path)
    parallel.offer_library(lib, os.path.basename(manifest["_library_path"]))  # its st_pfor, if none is in use
    program = Program(address, [s for _, s in manifest["_inputs"]], [s for _, s in manifest["_outputs"]],
                      manifest["workspace_bytes"], keepalive=lib)
    return Artifact(path, manifest, program)
