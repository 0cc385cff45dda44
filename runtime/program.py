"""A compiled program: a native entry point plus what it needs to be called (no compiler imports).

The entry is `void main(in0*, ..., out0*, ..., workspace*, pfor*)`: inputs are read, outputs are written
in place (the runtime allocates them), temporaries live in one workspace buffer kept between calls. A call
made while another thread is inside the same program gets a workspace of its own, so concurrent calls are safe.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from runtime import outputs as _outputs  # large outputs reuse pages the caller has dropped
from runtime import parallel as _parallel

_from_buffer = ctypes.c_char.from_buffer
_addressof = ctypes.addressof


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: np.dtype


class Program:
    def __init__(self, entry_address: int, inputs: list[TensorSpec], outputs: list[TensorSpec],
                 workspace_bytes: int, keepalive=None):
        self.inputs = inputs
        self.outputs = outputs
        self._ws_bytes = max(workspace_bytes, 1)
        self.workspace = _aligned_bytes(self._ws_bytes)
        self._keepalive = keepalive  # the JIT engine or loaded library owning the code
        _parallel.configure()  # SPIRAL_NUM_THREADS as it is now; pfor workers started
        n = len(inputs) + len(outputs) + 2
        self._fn = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * n))(entry_address)
        self._ws_ptr = self.workspace.ctypes.data
        self._busy = threading.Lock()
        self._out_specs = [(s.shape, np.dtype(s.dtype)) for s in outputs]
        self._allocs = [_outputs.allocator(s.shape, s.dtype) for s in outputs]

    @property
    def workspace_bytes(self) -> int:
        """Temporary memory the program needs beyond its inputs and outputs (the planned workspace)."""
        return self._ws_bytes

    def call_arrays(self, args) -> list[np.ndarray]:
        """Arrays already known to have the right shapes and dtypes (the compiled function's fast path).

        `addressof(c_char.from_buffer(a))` reads a data pointer in ~0.3 us where `a.ctypes.data` takes
        ~1.3 us; it only accepts writable C-contiguous buffers, and anything else takes the general path.
        """
        outs = [alloc() for alloc in self._allocs]
        try:
            ptrs = [_addressof(_from_buffer(a)) for a in (*args, *outs)]
        except (TypeError, ValueError, BufferError):  # e.g. bfloat16 cannot export a buffer
            return self(args)
        self._run(ptrs)
        return outs

    def _run(self, ptrs) -> None:
        if self._busy.acquire(blocking=False):
            try:
                self._fn(*ptrs, self._ws_ptr, _parallel.ADDRESS)
            finally:
                self._busy.release()
            return
        ws = _aligned_bytes(self._ws_bytes)  # another thread is using the shared workspace
        self._fn(*ptrs, ws.ctypes.data, _parallel.ADDRESS)

    def __call__(self, args) -> list[np.ndarray]:
        ptrs = []
        keep = []
        for a, spec in zip(args, self.inputs, strict=True):
            arr = np.asarray(a, dtype=spec.dtype)
            if not arr.flags.c_contiguous:
                arr = np.ascontiguousarray(arr)
            keep.append(arr)
            ptrs.append(arr.ctypes.data)
        outs = [alloc() for alloc in self._allocs]
        ptrs.extend(o.ctypes.data for o in outs)
        self._run(ptrs)
        return outs


def _aligned_bytes(n: int) -> np.ndarray:
    """n bytes starting on a 64-byte boundary: generated code assumes cache-line aligned temporaries
    (GEMM packing buffers use aligned vector loads)."""
    raw = np.empty(n + 64, np.uint8)
    skip = (-raw.ctypes.data) % 64
    return raw[skip:skip + n]
