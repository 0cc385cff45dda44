"""The compile targets `st.compile(target=...)` accepts, in one place.

A target turns a `Lowered` (traced SpiralIR plus its signature) into an executable: a callable
taking the flat list of argument leaves and returning the flat list of outputs.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from spiraltorch.errors import UsageError

DEFAULT = "cpu"  # native code through LLVM; "interp" is the reference interpreter

# name -> "module:attribute" of an object with .compile(lowered); imported lazily so that
# choosing one target never imports another's toolchain.
_TARGETS = {
    "interp": "spiraltorch.interp.executable:InterpTarget",
    "cpu": "spiraltorch.codegen.cpu_target:CpuTarget",
}


class Target(Protocol):
    def compile(self, lowered): ...


def names() -> list[str]:
    return sorted(_TARGETS)


def get(name: str) -> Target:
    spec = _TARGETS.get(name)
    if spec is None:
        raise UsageError(f"unknown target '{name}'; available: {', '.join(names())}")
    module, attr = spec.split(":")
    return getattr(importlib.import_module(module), attr)()
