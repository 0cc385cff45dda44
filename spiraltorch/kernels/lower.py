"""Lowering of a traced spiral function to a host function plus one kernel function per op.

The result is an ordinary MLIR-shaped module:

    func.func @main(%x: memref<4x8xf32>, %out0: memref<4x8xf32>, %ws: memref<Nxi8>) {
      %t0 = memref.view %ws[...]                   // temporaries live in one workspace buffer
      %v = memref.reinterpret_cast %x to ...       // views (transpose, broadcast, slice) cost nothing
      func.call @k0_add(%v, %t0, %lo, %hi)        // one kernel per op for now (fusion merges them)
      ...
    }
    func.func @k0_add(%a: memref<..., strided<[...]>>, ..., %lo: index, %hi: index) attributes {spiral.kernel}

Kernels loop over their (collapsed) iteration space; the outermost loop runs over [lo, hi) so the
runtime can split big kernels across threads. Outputs are passed in by the caller (destination
passing), so the op producing a result writes straight into the output array.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects import arith, func, memref
from xdsl.dialects.builtin import (
    DenseArrayBase,
    IntegerType,
    MemRefType,
    ModuleOp,
    SymbolRefAttr,
    UnitAttr,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue

from spiraltorch import knobs
from spiraltorch.errors import CompileError
from spiraltorch.ir import dtypes
from spiraltorch.ir.shapes import numel
from spiraltorch.kernels.builder import INDEX, KernelBuilder, memref_type
from spiraltorch.kernels.memory import WorkspacePlanner
from spiraltorch.kernels.view import View

ALIGN = 64  # bytes; workspace temporaries start on cache-line boundaries

# op class -> function(lowerer, op) registered by the kernel family modules
LOWERINGS: dict[type, Callable[[Lowerer, Operation], None]] = {}


def lowering(*op_classes):
    def register(fn):
        for cls in op_classes:
            LOWERINGS[cls] = fn
        return fn

    return register


def element_type(t: Attribute) -> Attribute:
    return t.element_type


def itemsize(t: Attribute) -> int:
    return dtypes.from_ir(t).np.itemsize


class Lowerer:
    def __init__(self, spiral_func: func.FuncOp, name: str = "main"):
        self.src = spiral_func
        self.name = name
        ins = [self._memref(a.type) for a in spiral_func.body.block.args]
        ret = spiral_func.body.block.last_op
        assert isinstance(ret, func.ReturnOp)
        self.returned = list(ret.operands)
        outs = [self._memref(v.type) for v in self.returned]
        self.ws_type_placeholder = MemRefType(IntegerType(8), [0])
        self.host_block = Block(arg_types=[*ins, *outs, self.ws_type_placeholder])
        self.host = KernelBuilder(self.host_block)
        self.kernels: list[func.FuncOp] = []
        self._kernel_bodies: dict = {}
        self._kernel_count = 0
        self._kernel_keys: dict = {}
        self._open_key = None
        self.globals: list[Operation] = []
        self.views: dict[SSAValue, View] = {}
        self.ws_size = 0
        self.ws_views: list[Operation] = []
        args = self.host_block.args
        n_in = len(ins)
        self.inputs = list(args[:n_in])
        self.outputs = list(args[n_in:n_in + len(outs)])
        self.workspace = args[-1]
        for i, out in enumerate(self.outputs):
            out.name_hint = f"out{i}"
        for a, b in zip(spiral_func.body.block.args, self.inputs, strict=True):
            b.name_hint = a.name_hint
            self.views[a] = View.of_buffer(b, dtypes.shape_of(a.type), a.type.element_type)
        # first return position of each value: its producer writes into that output directly
        self.out_slot: dict[SSAValue, int] = {}
        for i, v in enumerate(self.returned):
            self.out_slot.setdefault(v, i)
        self._written_outputs: set[int] = set()
        self.memory = WorkspacePlanner()
        self._op_temps: list[SSAValue] = []
        self._last_use = _last_uses(spiral_func.body.block)
        self._position = 0

    @staticmethod
    def _memref(t) -> MemRefType:
        return MemRefType(t.element_type, list(dtypes.shape_of(t)))

    # -- buffers ------------------------------------------------------------------------------------
    def result_view(self, value: SSAValue, reuse: tuple[SSAValue, ...] = ()) -> View:
        """A contiguous buffer for an op result: the output array when the value is returned, else workspace.

        `reuse` lists operands the op reads element by element at the position it writes (elementwise ops): when
        one of them dies here and owns a same-sized contiguous temporary, the result overwrites it in place.
        """
        shape = dtypes.shape_of(value.type)
        et = value.type.element_type
        slot = self.out_slot.get(value)
        if slot is not None and slot not in self._written_outputs:
            self._written_outputs.add(slot)
            view = View.of_buffer(self.outputs[slot], shape, et)
        else:
            view = self._in_place(value, shape, et, reuse) or View.of_buffer(self.temp(shape, et), shape, et)
        self.set_view(value, view)
        return view

    def _in_place(self, value, shape, et, reuse) -> View | None:
        for v in reuse:
            src = self.views.get(v)
            if (src is not None and self._last_use.get(v) == self._position and v not in self.out_slot
                    and src.shape == tuple(shape) and src.element_type == et and src.is_contiguous
                    and self.memory.sole_holder(src.buffer, v)):
                return src
        return None

    def temp(self, shape, et) -> SSAValue:
        nbytes = max(numel(shape) * itemsize(et), 1)
        offset = self.memory.allocate(nbytes)
        self.ws_size = self.memory.peak
        op = memref.ViewOp(self.workspace, self.host.index(offset), [], MemRefType(et, list(shape)))
        self.host.insert(op)
        self.ws_views.append(op)
        buf = op.results[0]
        self.memory.record(buf, offset, nbytes)
        self._op_temps.append(buf)
        return buf

    def view(self, value: SSAValue) -> View:
        return self.views[value]

    def set_view(self, value: SSAValue, view: View) -> None:
        self.views[value] = view
        self.memory.hold(view.buffer, value)

    def _retire(self, op: Operation) -> None:
        """After lowering op: release its scratch, and the buffers of values nothing reads any more."""
        self.memory.release_unheld(self._op_temps)
        self._op_temps = []
        dying = [v for v in (*op.operands, *op.results)
                 if self._last_use.get(v, -1) <= self._position and v not in self.out_slot and v in self.views]
        for v in dict.fromkeys(dying):
            self.memory.drop(self.views[v].buffer, v)

    # -- kernels ------------------------------------------------------------------------------------
    def kernel(self, label: str, views: list[View], parallel_extent: int, key=None, parallel: bool | None = None):
        """Create a kernel taking the given views (as strided memrefs) plus [lo, hi) of its outer loop.

        Returns (KernelBuilder, memref params, lo, hi). The host calls it over [0, parallel_extent).
        With a `key` (everything that determines the kernel's body besides the view types), a kernel
        built earlier for the same key and views is called instead and this returns None.
        `parallel`: None lets the amount of data decide (SPIRAL_PARALLEL_MIN); True splits [0, extent) across
        threads whatever the size (compute-bound kernels such as GEMM bands, which already chose their extent).
        """
        # Identical views (an in-place result and the input it overwrites) become ONE parameter: kernel
        # parameters are `noalias`, so two pointers to the same memory would let LLVM reorder a load after the
        # store that overwrites it.
        slot = [next(i for i, u in enumerate(views) if u == v) for v in views]
        unique = [v for i, v in enumerate(views) if slot[i] == i]
        position = {i: n for n, i in enumerate(i for i in range(len(views)) if slot[i] == i)}
        types = [memref_type(v.shape, v.element_type, v.strides, v.offset) for v in unique]
        full_key = None if key is None else (key, tuple(types), tuple(slot), parallel_extent)
        if full_key is not None and full_key in self._kernel_keys:
            self._host_call(self._kernel_keys[full_key], unique, types, parallel_extent, parallel)
            return None
        block = Block(arg_types=[*types, INDEX, INDEX])
        name = f"k{self._kernel_count}_{label}"
        self._kernel_count += 1
        fn = func.FuncOp(name, (list(block.arg_types), []), _region(block))
        fn.attributes["spiral.kernel"] = UnitAttr()
        self.kernels.append(fn)
        self._host_call(name, unique, types, parallel_extent, parallel)
        self._open_key = full_key
        kb = KernelBuilder(block)
        return kb, [block.args[position[slot[i]]] for i in range(len(views))], block.args[-2], block.args[-1]

    def _host_call(self, name: str, views: list[View], types, parallel_extent: int, parallel: bool | None = None
                   ) -> None:
        args = [self._host_arg(v, t) for v, t in zip(views, types, strict=True)]
        call = func.CallOp(name, [*args, self.host.index(0), self.host.index(parallel_extent)], [])
        work = max(numel(v.shape) for v in views)
        if parallel_extent > 1 and (parallel or (parallel is None and work >= knobs.parallel_min())):
            call.attributes["spiral.parallel"] = UnitAttr()  # the runtime may split [0, extent) across threads
        self.host.insert(call)
        self._open_call = call

    def finish_kernel(self, kb: KernelBuilder) -> None:
        kb.insert(func.ReturnOp())
        if self._open_key is not None:
            self._kernel_keys[self._open_key] = self.kernels[-1].sym_name.data
        else:
            self._dedupe_last_kernel()

    def _dedupe_last_kernel(self) -> None:
        """Reuse an identical earlier kernel (same body and memref layouts) instead of compiling another:
        repeated layers then cost one kernel, not one per layer (LLVM time is per kernel)."""
        fn = self.kernels[-1]
        # Structural comparison with earlier kernels of the same signature (printing bodies to compare them
        # cost ~40% of lowering time).
        same_type = self._kernel_bodies.setdefault(fn.function_type, [])
        for earlier in same_type:
            if earlier.body.is_structurally_equivalent(fn.body):
                self.kernels.pop()
                self._open_call.callee = SymbolRefAttr(earlier.sym_name.data)
                return
        same_type.append(fn)

    def _host_arg(self, v: View, t: MemRefType) -> SSAValue:
        """The host value passed for view v: the buffer itself, or a reinterpret_cast when strided."""
        if v.buffer.type == t:
            return v.buffer
        op = memref.ReinterpretCastOp(v.buffer, [], [], [], [v.offset], list(v.shape), list(v.strides), t)
        self.host.insert(op)
        return op.results[0]

    # -- driver ----------------------------------------------------------------------------------------
    def run(self) -> ModuleOp:
        for position, op in enumerate(self.src.body.block.ops):
            if isinstance(op, func.ReturnOp):
                break
            fn = LOWERINGS.get(type(op))
            if fn is None:
                raise CompileError(f"{_where(op)}: {op.name} is not supported by the CPU backend yet")
            self._position = position
            fn(self, op)
            self._retire(op)
        self._write_outputs()
        self.host.insert(func.ReturnOp())
        return self._module()

    def _write_outputs(self) -> None:
        from spiraltorch.kernels.copy import copy_view

        for slot, value in enumerate(self.returned):
            if slot in self._written_outputs and self.out_slot.get(value) == slot:
                continue
            shape = dtypes.shape_of(value.type)
            dst = View.of_buffer(self.outputs[slot], shape, value.type.element_type)
            copy_view(self, self.views[value], dst, "out")

    def _module(self) -> ModuleOp:
        # The workspace size is known only now: swap the placeholder argument for the sized one.
        ws_type = MemRefType(IntegerType(8), [max(self.ws_size, 1)])
        old = self.workspace
        self.workspace = self.host_block.insert_arg(ws_type, len(self.host_block.args))
        self.workspace.name_hint = "ws"
        old.replace_all_uses_with(self.workspace)
        self.host_block.erase_arg(old)
        in_types = [a.type for a in self.host_block.args]
        host = func.FuncOp(self.name, (in_types, []), _region(self.host_block))
        host.attributes["spiral.host"] = UnitAttr()
        host.attributes["spiral.num_inputs"] = _i64_array([len(self.inputs)])
        return ModuleOp([*self.globals, host, *self.kernels])


def _last_uses(block: Block) -> dict[SSAValue, int]:
    """Position of the last op reading each value (values never read map to their producer's position)."""
    last: dict[SSAValue, int] = {}
    for i, op in enumerate(block.ops):
        for r in op.results:
            last[r] = i
        for v in op.operands:
            last[v] = i
    return last


def _region(block: Block):
    from xdsl.ir import Region

    return Region(block)


def _i64_array(values) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


def _where(op: Operation) -> str:
    from spiraltorch.ir.text import where

    return where(op)


def lower_function(spiral_func: func.FuncOp) -> ModuleOp:
    # Import the kernel families so that they register their lowerings.
    from spiraltorch.kernels import families  # noqa: F401

    return Lowerer(spiral_func).run()


__all__ = ["Lowerer", "LOWERINGS", "lowering", "lower_function", "arith"]
