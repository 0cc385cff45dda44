"""The parallel-for that compiled host code calls for big kernels: pfor(chunk, ctx, n).

Generated code calls it through a C function pointer (the entry's last parameter, see runtime.program):
it runs `chunk(ctx, lo, hi)` over sub-ranges of [0, n) on several threads and returns when all are done.

Two implementations:
* native (the usual one): `st_pfor` and its worker loop `st_pfor_serve`, generated as LLVM IR by
  spiraltorch/codegen/pfor.py (protocol described there). The compiler installs its in-process JIT copy
  (`install_native`); every shared object the compiler builds also exports them, and `runtime.load`
  offers the library (`offer_library`), so an artifact run without the compiler gets them too. The
  first one installed serves the whole process. Worker threads are Python threads that enter
  `st_pfor_serve` through ctypes (which releases the GIL) and never come back: they spin for SPIN_NS
  after their last part, then sleep in the kernel. A handoff costs ~1 us instead of ~50-100 us.
* Python (fallback, for libraries built before st_pfor existed when no compiler is around): a
  ThreadPoolExecutor; ctypes releases the GIL for the duration of each native chunk.

Threads: SPIRAL_NUM_THREADS (default: the number of CPUs), read when a program is created (`configure`);
1 runs every chunk inline on the calling thread.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
import time

CHUNK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
PFOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
SERVE = ctypes.CFUNCTYPE(None, ctypes.c_int64)
CTL = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)
SYMBOLS = ("st_pfor", "st_pfor_serve", "st_pfor_ctl")  # exported by libraries that carry the native pfor

# How long an idle worker spins (pause instruction, GIL released) after its last part before it sleeps in
# futex_wait. Longer keeps back-to-back calls cheap (a wake-up from sleep costs ~50-100 us) and burns more
# CPU between bursts; 1 ms covers the gaps between the kernels of a program and between steps of a loop.
SPIN_NS = 1_000_000
CTL_SET_LIMIT, CTL_WORKERS, CTL_WORKER_PARTS, CTL_SLEEPING, CTL_RESET, CTL_STOP = range(6)

_lock = threading.Lock()
_pool = None  # a concurrent.futures.ThreadPoolExecutor, made (and imported) on first use


def _threads() -> int:
    value = os.environ.get("SPIRAL_NUM_THREADS", "")
    return max(1, int(value)) if value else (os.cpu_count() or 1)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- Python fallback ------------------------------------------------------------------------------------
def _get_pool(workers: int):
    global _pool
    with _lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spiral")
        return _pool


def _pfor(chunk_ptr, ctx, n):
    threads = min(_threads(), n)
    chunk = CHUNK(chunk_ptr)
    if threads <= 1:
        chunk(ctx, 0, n)
        return
    bounds = [n * i // threads for i in range(threads + 1)]
    pool = _get_pool(threads - 1)
    futures = [pool.submit(chunk, ctx, bounds[i], bounds[i + 1]) for i in range(1, threads)]
    chunk(ctx, bounds[0], bounds[1])
    for f in futures:
        f.result()


PFOR_CALLBACK = PFOR(_pfor)  # one C-callable object for the process (keeps the thunk alive)
PFOR_ADDRESS = ctypes.cast(PFOR_CALLBACK, ctypes.c_void_p).value  # the Python pfor's address


# --- native -------------------------------------------------------------------------------------------
class _Native:
    def __init__(self, pfor: int, serve: int, ctl: int, keepalive, source: str):
        self.address = pfor
        self.serve = SERVE(serve)
        self.ctl = CTL(ctl)
        self.keepalive = keepalive  # the JIT engine or library holding the code
        self.source = source
        self.threads: list[threading.Thread] = []

    def start_workers(self, count: int) -> None:
        if len(self.threads) >= count:
            return
        while len(self.threads) < count:
            t = threading.Thread(target=self.serve, args=(SPIN_NS,), name=f"spiral-pfor-{len(self.threads)}",
                                 daemon=True)
            t.start()
            self.threads.append(t)
        # A new thread needs the GIL once, to enter st_pfor_serve; a caller that keeps the GIL busy between
        # native calls can starve it for a switch interval (5 ms). Sleeping briefly here lets it in.
        deadline = time.monotonic() + 0.05
        while self.ctl(CTL_WORKERS, 0) < len(self.threads) and time.monotonic() < deadline:
            time.sleep(0.0001)


_native: _Native | None = None
ADDRESS: int = PFOR_ADDRESS  # what programs pass as `pfor` (read at every call)
_forced: str | None = None  # set_backend("python") keeps the fallback even with a native pfor


def native_installed() -> bool:
    return _native is not None


def install_native(pfor: int, serve: int, ctl: int, keepalive=None, source: str = "") -> bool:
    """Use the native pfor at these addresses for the rest of the process (False: one is in use already)."""
    global _native, ADDRESS
    with _lock:
        if _native is not None:
            return False
        _native = _Native(pfor, serve, ctl, keepalive, source)
        _configure_locked()
        if _forced != "python":
            ADDRESS = _native.address
        return True


def offer_library(lib: ctypes.CDLL, name: str = "") -> bool:
    """Install the native pfor of a loaded library when it exports one and none is installed yet."""
    if _native is not None:
        return False
    try:
        pfor, serve, ctl = (ctypes.cast(getattr(lib, s), ctypes.c_void_p).value for s in SYMBOLS)
    except AttributeError:
        return False  # built before st_pfor existed: the Python pool serves it
    return install_native(pfor, serve, ctl, keepalive=lib, source=name or "library")


def configure() -> None:
    """Apply SPIRAL_NUM_THREADS (called for each new program): the number of parts a pfor cuts its range
    into, and enough workers (at most one per other CPU: spinning threads must not share a CPU)."""
    if _native is not None:
        with _lock:
            _configure_locked()


def _configure_locked() -> None:
    threads = min(_threads(), 1 << 16)  # parts are counted in 32 bits
    _native.ctl(CTL_SET_LIMIT, threads)
    _native.start_workers(min(threads, _cpus()) - 1)


def backend() -> str:
    """'native (jit)', 'native (<library>)' or 'python': what programs use now."""
    if _native is None or ADDRESS != _native.address:
        return "python"
    return f"native ({_native.source})"


def set_backend(name: str) -> None:
    """'python' or 'native' (for benchmarks and tests: compare the two in one process)."""
    global ADDRESS, _forced
    if name not in ("python", "native"):
        raise ValueError(f"unknown pfor backend {name!r}")
    _forced = name
    ADDRESS = _native.address if name == "native" and _native is not None else PFOR_ADDRESS


def stats() -> dict:
    """Workers started and registered, parts run by workers, workers asleep (native only)."""
    if _native is None:
        return {"backend": backend()}
    return {"backend": backend(), "threads": len(_native.threads), "workers": _native.ctl(CTL_WORKERS, 0),
            "worker_parts": _native.ctl(CTL_WORKER_PARTS, 0), "sleeping": _native.ctl(CTL_SLEEPING, 0)}


def _after_fork() -> None:
    # The child has none of the parent's threads: forget them and start new ones (the control block may
    # also hold the state of a call another parent thread was making).
    global _lock, _pool
    _lock = threading.Lock()
    _pool = None
    if _native is not None:
        _native.ctl(CTL_RESET, 0)
        _native.threads = []
        _configure_locked()


def _stop_workers() -> None:
    # At exit, before the interpreter tears down modules (and with them the JIT engine whose code the
    # workers spin in), the workers leave st_pfor_serve and their threads end; later calls run inline.
    if _native is not None:
        _native.ctl(CTL_STOP, 0)
        for t in _native.threads:
            t.join(timeout=1.0)


atexit.register(_stop_workers)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
