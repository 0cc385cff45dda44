"""SpiralTorch's minimal runtime: loads and runs compiled artifacts without importing the compiler.

Placeholder until the CPU backend lands (issue: CPU backend, minimal runtime, AOT artifacts).
"""
