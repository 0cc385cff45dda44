"""Importing this module registers the lowering of every op family supported by the CPU backend."""

from spiraltorch.kernels import creation, elementwise, fusion, linalg, nn, rankk, reduction, shape  # noqa: F401
