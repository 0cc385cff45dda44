"""The parallel-for that compiled host code calls for big kernels: pfor(chunk, ctx, n).

Generated code calls it through a C function pointer; it splits [0, n) into one range per thread and
runs `chunk(ctx, lo, hi)` on a small persistent pool plus the calling thread. ctypes releases the
GIL for the duration of each native chunk, so the chunks really run in parallel.
"""

from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

CHUNK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
PFOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _threads() -> int:
    value = os.environ.get("SPIRAL_NUM_THREADS", "")
    return max(1, int(value)) if value else (os.cpu_count() or 1)


def _get_pool(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
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
PFOR_ADDRESS = ctypes.cast(PFOR_CALLBACK, ctypes.c_void_p).value
