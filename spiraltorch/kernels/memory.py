"""Memory planning for the workspace: temporaries share space by lifetime, and elementwise results overwrite an
input that dies with them (in place).

The host function runs its kernels one after the other (a parallel kernel's threads join before the next
starts), so a region of the workspace is free again as soon as the last kernel reading it has been called. The
Lowerer tells the planner, op by op, which buffers values live in and when values die; the planner hands out
offsets first-fit from a free list and coalesces neighbours. `peak` is the workspace size: what the compiled
function needs beyond its inputs and outputs (`CompiledFunction.memory_info()` reports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.ir import SSAValue

ALIGN = 64  # bytes; temporaries start on cache-line boundaries (GEMM packing uses aligned vector loads)


def _round(n: int) -> int:
    return (max(n, 1) + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class WorkspacePlanner:
    free: list[tuple[int, int]] = field(default_factory=list)  # (offset, size), sorted by offset
    peak: int = 0
    region: dict[SSAValue, tuple[int, int]] = field(default_factory=dict)  # temp buffer -> (offset, size)
    holders: dict[SSAValue, set[SSAValue]] = field(default_factory=dict)  # temp buffer -> live values in it
    allocated_bytes: int = 0  # sum of all requests (what a planner without reuse would need)

    def allocate(self, nbytes: int) -> int:
        size = _round(nbytes)
        self.allocated_bytes += size
        for i, (off, sz) in enumerate(self.free):
            if sz >= size:
                if sz == size:
                    self.free.pop(i)
                else:
                    self.free[i] = (off + size, sz - size)
                return off
        # grow: a free block at the end of the workspace is extended instead of left behind
        if self.free and self.free[-1][0] + self.free[-1][1] == self.peak:
            off, _ = self.free.pop()
        else:
            off = self.peak
        self.peak = off + size
        return off

    def release(self, buffer: SSAValue) -> None:
        off, size = self.region.pop(buffer)
        self.holders.pop(buffer, None)
        self.free.append((off, size))
        self.free.sort()
        merged: list[tuple[int, int]] = []
        for o, s in self.free:
            if merged and merged[-1][0] + merged[-1][1] == o:
                merged[-1] = (merged[-1][0], merged[-1][1] + s)
            else:
                merged.append((o, s))
        self.free = merged

    # -- lifetimes -------------------------------------------------------------------------------------
    def record(self, buffer: SSAValue, offset: int, nbytes: int) -> None:
        self.region[buffer] = (offset, _round(nbytes))
        self.holders[buffer] = set()

    def hold(self, buffer: SSAValue, value: SSAValue) -> None:
        if buffer in self.region:
            self.holders[buffer].add(value)

    def drop(self, buffer: SSAValue, value: SSAValue) -> None:
        """value is dead; the buffer is released when no live value is held in it."""
        held = self.holders.get(buffer)
        if held is None:
            return
        held.discard(value)
        if not held:
            self.release(buffer)

    def release_unheld(self, buffers) -> None:
        """Scratch of the op just lowered (GEMM packing space, per-row partial sums) that no value lives in."""
        for b in buffers:
            if b in self.region and not self.holders.get(b):
                self.release(b)

    def sole_holder(self, buffer: SSAValue, value: SSAValue) -> bool:
        return buffer in self.region and self.holders.get(buffer) == {value}
