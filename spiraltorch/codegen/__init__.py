"""Code generation: LLVM IR emission for SpiralTorch kernels."""
