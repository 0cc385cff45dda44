"""The `cpu` target: spiral -> kernel IR -> LLVM IR -> native code (a cached shared object, or llvmlite's JIT)."""

from __future__ import annotations

from xdsl.dialects import func

from spiraltorch.ir import dtypes


def pipeline() -> str:
    """The tensor-level passes the cpu target runs before lowering (SPIRAL_FUSE=0 leaves out fusion)."""
    from spiraltorch import knobs

    fuse = ",fuse,dce" if knobs.get("SPIRAL_FUSE") != "0" else ""
    return "autodiff,canonicalize,cse,dce" + fuse


def kernel_module(lowered):
    """The kernel-IR module of a traced function (the traced module itself is left untouched)."""
    from spiraltorch.passes.lower_to_kernels import LowerToKernelsPass
    from spiraltorch.passes.registry import PipelineRun

    module = lowered.module.clone()
    PipelineRun(pipeline()).run(module)
    LowerToKernelsPass().apply(None, module)
    return module


def _provide_gemm(kmod) -> None:
    """Programs with f32 matmuls call GEMM variants (st_sgemm, st_sgemm_n16, ...): compile them once per process;
    `gemm_driver.library()` hands every variant's symbol to the JIT."""
    from spiraltorch.ir.kernel_dialect import GemmOp

    if any(isinstance(op, GemmOp) for op in kmod.walk()):
        from spiraltorch.codegen import gemm_driver

        gemm_driver.library()


class CpuExecutable:
    def __init__(self, lowered):
        from runtime.program import Program, TensorSpec
        from spiraltorch.codegen import jit, llvm_emitter, pfor

        kmod = kernel_module(lowered)
        host = next(op for op in kmod.ops if isinstance(op, func.FuncOp) and "spiral.host" in op.attributes)
        _provide_gemm(kmod)
        pfor.install()  # the in-process native parallel-for (once per process)
        llvm_mod = llvm_emitter.emit_module(kmod)
        self.engine = jit.compile_module(llvm_mod)
        addr = self.engine.get_function_address(host.sym_name.data)
        fn = next(op for op in lowered.module.ops if isinstance(op, func.FuncOp))
        ins = [TensorSpec(dtypes.shape_of(t), dtypes.dtype_of(t).np) for t in fn.function_type.inputs.data]
        outs = [TensorSpec(dtypes.shape_of(t), dtypes.dtype_of(t).np) for t in fn.function_type.outputs.data]
        ws_type = host.function_type.inputs.data[-1]
        self.program = Program(addr, ins, outs, ws_type.get_shape()[0], keepalive=self.engine)

        self.call_arrays = self.program.call_arrays

    def __call__(self, leaves):
        return self.program(leaves)


class CpuTarget:
    name = "cpu"

    def compile(self, lowered):
        """Through the disk compile cache (spiraltorch/cache.py): a hit loads a shared object, a miss
        builds one (or JITs with CpuExecutable when the cache is off or there is no C compiler)."""
        from spiraltorch import cache

        return cache.compile_cpu(lowered)
