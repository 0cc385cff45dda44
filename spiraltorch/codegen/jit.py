"""Turning an llvmlite module into callable native code in this process (MCJIT)."""

from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir

from spiraltorch.codegen import mathlib


def compile_module(module: ir.Module, target: mathlib.Target | str = "host"):
    """Optimize (O3 + vectorizers) and JIT; returns the execution engine (keep it alive)."""
    ref, tm = mathlib.optimize(module, target)
    engine = llvm.create_mcjit_compiler(ref, tm)
    engine.finalize_object()
    return engine
