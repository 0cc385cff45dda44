"""The on-disk compile cache of the `cpu` target: compiled programs reused across processes.

An entry is an artifact directory (manifest.json + shared object, see runtime/artifact.py) named by
the sha256 of everything that decides the machine code:

    cache format version, target name, LLVM triple, CPU name, CPU features, spiraltorch and llvmlite
    versions, a hash of the compiler's code-generation sources (kernels/, codegen/, ir/, passes/,
    runtime/: a development checkout changes them without changing the version), the knobs lowering
    reads (SPIRAL_PARALLEL_MIN, SPIRAL_NUM_THREADS, resolved), and the traced module printed in
    generic form (no locations).

Location: $SPIRAL_CACHE_DIR, else $XDG_CACHE_HOME/spiraltorch, else ~/.cache/spiraltorch
(entries under `cpu/`). SPIRAL_CACHE=0 disables it (every compile then JITs in memory).

A hit loads the shared object through runtime.artifact: no lowering and no LLVM work (the host CPU
description is memoized in the cache directory, so llvmlite.binding is not even imported). A miss
builds the artifact in a temporary directory inside the cache and renames it into place; rename is
atomic, so readers see a whole entry or none, and when two processes race the loser discards its
copy and uses the winner's. An entry that fails validation (unparsable manifest, hash mismatch,
unloadable library, signature that does not fit) is discarded with a CacheWarning naming it and
rebuilt: a bad entry is never run and never crashes the caller. There is no eviction (yet); delete
the directory to reclaim space.

`stats()` counts what this process did (hits, builds, ...) for tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import threading
import warnings

from spiraltorch import knobs

CACHE_FORMAT = 1
_ENTRIES = "cpu"
_STALE_TMP_S = 24 * 3600  # leftovers of killed processes older than this are swept on a miss


class CacheWarning(RuntimeWarning):
    """Something in the compile cache was wrong and has been worked around (entry rebuilt, cache skipped)."""


@dataclasses.dataclass(frozen=True)
class CacheStats:
    hits: int = 0  # compiles served from a disk entry (no LLVM work)
    builds: int = 0  # compiles that ran LLVM (into a .so, or in-memory JIT)
    stores: int = 0  # entries this process renamed into the cache
    races_lost: int = 0  # entries another process stored first (theirs was used)
    discarded: int = 0  # corrupt entries removed
    jit: int = 0  # builds that used the in-process JIT (cache disabled, no cc, or cache unusable)


_lock = threading.Lock()
_counts = {f.name: 0 for f in dataclasses.fields(CacheStats)}
_warned: set[str] = set()


def _bump(name: str) -> None:
    with _lock:
        _counts[name] += 1


def stats() -> CacheStats:
    """What this process's cpu compiles did so far."""
    with _lock:
        return CacheStats(**_counts)


def reset_stats() -> None:
    with _lock:
        for k in _counts:
            _counts[k] = 0


def _warn_once(tag: str, message: str) -> None:
    with _lock:
        if tag in _warned:
            return
        _warned.add(tag)
    warnings.warn(message, CacheWarning, stacklevel=4)


# --- configuration ------------------------------------------------------------------------------------
def enabled() -> bool:
    return knobs.get("SPIRAL_CACHE").strip().lower() not in ("0", "false", "no", "off")


def cache_dir() -> str:
    configured = knobs.get("SPIRAL_CACHE_DIR")
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "spiraltorch")


def entries_dir(root: str | None = None) -> str:
    return os.path.join(root or cache_dir(), _ENTRIES)


_FINGERPRINT_DIRS = ("spiraltorch/kernels", "spiraltorch/codegen", "spiraltorch/ir", "spiraltorch/passes", "runtime")
_FINGERPRINT_FILES = ("spiraltorch/cache.py", "spiraltorch/knobs.py", "spiraltorch/errors.py")


@functools.cache
def compiler_fingerprint() -> str:
    """sha256 of the code-generation sources (contents, not mtimes)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = [os.path.join(repo, f) for f in _FINGERPRINT_FILES]
    for d in _FINGERPRINT_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(repo, d)):
            dirnames[:] = sorted(n for n in dirnames if n != "__pycache__")
            files += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".py")]
    h = hashlib.sha256()
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            data = b"<missing>"
        h.update(os.path.relpath(path, repo).encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def _versions() -> dict:
    # llvmlite the package only, for its version: llvmlite.binding loads LLVM and is not needed here.
    # (xdsl is pinned by pyproject.toml; its lazy __version__ costs an importlib.metadata scan.)
    import llvmlite

    import spiraltorch

    return {"spiraltorch": spiraltorch.__version__, "llvmlite": llvmlite.__version__}


def _cpu_identity() -> str | None:
    """The host CPU as the OS describes it (model and ISA flags), or None where that is unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return None
    wanted = ("vendor_id", "cpu family", "model", "model name", "flags", "Features", "CPU implementer", "CPU part")
    lines = []
    for line in text.split("\n\n")[0].splitlines():
        key = line.partition(":")[0].strip()
        if key in wanted:
            lines.append(line.strip())
    return "\n".join(lines) if lines else None


def _query_host() -> dict:
    from spiraltorch.codegen import mathlib

    t = mathlib.host_target()
    return {"triple": t.triple, "cpu": t.cpu, "features": t.features}


@functools.cache
def host_info(root: str) -> dict:
    """{triple, cpu, features} of the host as LLVM names them, memoized in `root` so that a warm
    process need not load LLVM. The memo is keyed by the OS's CPU description and the versions."""
    ident = _cpu_identity()
    if ident is None:
        return _query_host()
    memo_key = hashlib.sha256(json.dumps([ident, os.uname().machine, _versions(), compiler_fingerprint()])
                              .encode()).hexdigest()[:32]
    path = os.path.join(root, f"host-{memo_key}.json")
    try:
        with open(path) as f:
            info = json.load(f)
        if isinstance(info, dict) and all(isinstance(info.get(k), str) for k in ("triple", "cpu", "features")):
            return {k: info[k] for k in ("triple", "cpu", "features")}
    except (OSError, ValueError):
        pass
    info = _query_host()
    try:
        _atomic_write(path, json.dumps(info, indent=1))
    except OSError:
        pass  # an unwritable cache is reported where entries are written
    return info


def _atomic_write(path: str, text: str) -> None:
    import uuid

    tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def cached_object(parts: tuple, build) -> bytes:
    """Object code shared by many programs (each GEMM variant, the native parallel-for) built once per machine:
    stored under the cache's `objects/` by a key of `parts` (e.g. symbol and target), the code-generation
    sources and the tool versions. Without a usable cache directory it is simply built."""
    if not enabled():
        return build()
    digest = hashlib.sha256(repr((parts, compiler_fingerprint(), sorted(_versions().items()))).encode()).hexdigest()
    path = os.path.join(cache_dir(), "objects", digest[:32] + ".o")
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data:
            return data
    except OSError:
        pass
    data = build()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full cache only costs the rebuild next time
    return data


_NOT_CODEGEN_KNOBS = ("SPIRAL_CACHE", "SPIRAL_CACHE_DIR", "SPIRAL_FUZZ_EXAMPLES", "SPIRAL_LOG")


def _codegen_knobs() -> dict:
    """Knobs that lowering may read (all but the cache's own and logging), resolved where their default
    depends on the machine: SPIRAL_PARALLEL_MIN and SPIRAL_NUM_THREADS are baked into the code."""
    values = {name: knobs.get(name) for name in knobs.KNOBS if name not in _NOT_CODEGEN_KNOBS}
    values["num_threads"] = knobs.num_threads()
    values["parallel_min"] = knobs.parallel_min()
    return values


def key(lowered, host: dict, target: str = "cpu") -> str:
    from spiraltorch.ir import text

    header = {"cache_format": CACHE_FORMAT, "target": target, **host, **_versions(),
              "compiler_sources": compiler_fingerprint(), "knobs": _codegen_knobs()}
    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    h.update(b"\n")
    h.update(text.to_text(lowered.module, generic=True).encode())
    return h.hexdigest()


# --- executables --------------------------------------------------------------------------------------
class LoadedExecutable:
    """A cpu executable backed by a shared object from the cache (same interface as CpuExecutable:
    call with the flat input leaves, get the flat outputs)."""

    def __init__(self, art, path: str):
        self.artifact = art
        self.path = path
        self.program = art.program
        self.call_arrays = self.program.call_arrays

    def __call__(self, leaves):
        return self.program(leaves)


def _jit(lowered):
    from spiraltorch.codegen.cpu_target import CpuExecutable

    _bump("builds")
    _bump("jit")
    return CpuExecutable(lowered)


def _signature(lowered) -> tuple[list, list]:
    """(shape, numpy dtype) of the traced function's inputs and outputs."""
    from xdsl.dialects import func

    from spiraltorch.ir import dtypes

    fn = next(op for op in lowered.module.ops if isinstance(op, func.FuncOp))
    ft = fn.function_type
    return tuple([(tuple(dtypes.shape_of(t)), dtypes.dtype_of(t).np) for t in types]
                 for types in (ft.inputs.data, ft.outputs.data))


def _load_entry(path: str, lowered, fresh: bool = False):
    """The executable of a valid entry; None when there is none (a bad one is discarded with a warning).
    fresh: the entry was just built here, so a failure is a compiler bug rather than corruption."""
    from runtime import artifact as rt

    if not os.path.isdir(path):
        return None
    try:
        art = rt.load(path)
        got = ([(s.shape, s.dtype) for s in art.inputs], [(s.shape, s.dtype) for s in art.outputs])
        if got != _signature(lowered):
            raise rt.ArtifactError(f"{path}: signature does not match the program")
    except rt.ArtifactError as err:
        if fresh:
            warnings.warn(f"spiraltorch: the library just built cannot be used ({err}); compiling with the "
                          "llvmlite JIT instead", CacheWarning, stacklevel=5)
            _discard(path, None)
        else:
            _discard(path, str(err))
        return None
    return LoadedExecutable(art, path)


def _discard(path: str, reason: str | None) -> None:
    if reason is not None:
        warnings.warn(f"spiraltorch: discarding corrupt compile-cache entry {path} ({reason}); rebuilding it",
                      CacheWarning, stacklevel=5)
        _bump("discarded")
    import shutil
    import uuid

    trash = os.path.join(os.path.dirname(path), f".trash-{uuid.uuid4().hex}")
    try:
        os.rename(path, trash)  # atomic: concurrent readers see the entry or nothing
    except OSError:
        return  # another process discarded (or replaced) it first
    shutil.rmtree(trash, ignore_errors=True)


def _sweep(entries: str) -> None:
    """Remove temporary and trash directories that killed processes left behind long ago."""
    import shutil
    import time

    now = time.time()
    try:
        names = [n for n in os.listdir(entries) if n.startswith((".tmp-", ".trash-"))]
    except OSError:
        return
    for n in names:
        p = os.path.join(entries, n)
        try:
            if now - os.stat(p).st_mtime > _STALE_TMP_S:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


# --- the cpu target's compile ------------------------------------------------------------------------------
def compile_cpu(lowered):
    """Compile for the cpu target through the disk cache (or the in-memory JIT when it cannot be used).
    A hit imports only this module and the runtime: no lowering, no LLVM, no C compiler needed."""
    if not enabled():
        return _jit(lowered)
    root = cache_dir()
    entries = entries_dir(root)
    try:
        os.makedirs(entries, exist_ok=True)
    except OSError as err:
        _warn_once(f"dir:{root}", f"spiraltorch: cannot use the compile cache at {root} ({err.strerror}); "
                                  "compiling without it")
        return _jit(lowered)
    host = host_info(root)
    entry = os.path.join(entries, key(lowered, host))
    exe = _load_entry(entry, lowered)
    if exe is not None:
        _bump("hits")
        return exe

    from spiraltorch.codegen import aot

    if aot.find_cc() is None:
        _warn_once("nocc", "spiraltorch: no C compiler (cc, gcc or clang) on PATH, so the cpu target cannot link "
                           "shared objects: compiling with the llvmlite JIT in this process, without the disk "
                           "compile cache (`stc build` needs a compiler)")
        return _jit(lowered)
    return _build(lowered, entry, host)


def _build(lowered, entry: str, host: dict):
    import errno
    import shutil
    import tempfile

    from spiraltorch.codegen import aot, mathlib

    entries = os.path.dirname(entry)
    _sweep(entries)
    try:
        tmp = tempfile.mkdtemp(prefix=f".tmp-{os.path.basename(entry)[:16]}-", dir=entries)
    except OSError as err:
        _warn_once(f"dir:{entries}", f"spiraltorch: cannot write the compile cache at {entries} "
                                     f"({err.strerror}); compiling without it")
        return _jit(lowered)
    try:
        kmod = aot.kernel_module(lowered)
        target = mathlib.Target("host", host["triple"], host["cpu"], host["features"])
        n_out = len(aot.spiral_function(lowered).function_type.outputs.data)
        try:
            aot.write_artifact(lowered, tmp, out_tree=aot.flat_tree(n_out), target=target, kmod=kmod)
        except aot.LinkError as err:
            _warn_once("link", f"spiraltorch: {err}; compiling with the llvmlite JIT instead")
            return _jit(lowered)
        except OSError as err:
            _warn_once(f"dir:{entries}", f"spiraltorch: cannot write the compile cache at {entries} "
                                         f"({err.strerror}); compiling without it")
            return _jit(lowered)
        _bump("builds")
        for _ in range(3):
            try:
                os.rename(tmp, entry)
            except OSError as err:
                if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    _warn_once(f"dir:{entries}", f"spiraltorch: cannot store into the compile cache at {entries} "
                                                 f"({err.strerror}); using the build uncached")
                    return _load_entry(tmp, lowered, fresh=True) or _jit(lowered)
                _bump("races_lost")  # another process stored this entry first: use theirs
                exe = _load_entry(entry, lowered)
                if exe is not None:
                    return exe
                continue  # theirs was bad and is gone: try to store ours again
            tmp = None
            _bump("stores")
            break
        exe = _load_entry(entry, lowered, fresh=True)
        if exe is None:  # a bug (or tampering right away): never crash, never run a bad library
            return _jit(lowered)
        return exe
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
