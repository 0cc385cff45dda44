"""Kernel IR: lowering spiral ops to loops over buffers (scf + arith + math + memref)."""
