"""The one place passes are registered: `stc opt --help`, `-p` pipelines and `--print-after` read it.

Passes are xDSL ModulePasses (frozen dataclasses whose fields are the pipeline options, as in
`-p 'fuse{max-size=64}'`). Entries are imported lazily so listing passes stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline

from spiraltorch.errors import CompileError, SpiralError, UsageError

# name -> ("module:Class", one-line description)
_PASSES: dict[str, tuple[str, str]] = {
    "autodiff": ("spiraltorch.passes.autodiff:AutodiffPass",
                 "expand spiral.vjp / spiral.jvp into derivative code (reverse and forward mode)"),
    "canonicalize": ("xdsl.transforms.canonicalize:CanonicalizePass", "xDSL canonicalization patterns"),
    "cse": ("xdsl.transforms.common_subexpression_elimination:CommonSubexpressionElimination",
            "common subexpression elimination"),
    "dce": ("xdsl.transforms.dead_code_elimination:DeadCodeElimination", "remove unused pure ops"),
    "fuse": ("spiraltorch.passes.fusion:FusePass",
             "group ops into spiral.fused regions, one kernel each (option max-size=N)"),
    "lower-to-kernels": ("spiraltorch.passes.lower_to_kernels:LowerToKernelsPass",
                         "spiral ops -> host function + loop kernels (scf/arith/math/memref)"),
}


def register(name: str, target: str, description: str) -> None:
    """Add a pass (target is "module:Class"); later issues' passes call this from this file."""
    _PASSES[name] = (target, description)


def descriptions() -> dict[str, str]:
    return {name: desc for name, (_, desc) in sorted(_PASSES.items())}


def _loader(target: str) -> Callable[[], type[ModulePass]]:
    def load():
        module, cls = target.split(":")
        return getattr(importlib.import_module(module), cls)

    return load


def available() -> dict[str, Callable[[], type[ModulePass]]]:
    return {name: _loader(target) for name, (target, _) in _PASSES.items()}


@dataclass
class PipelineRun:
    """Runs a pipeline spec; `print_after` names passes (or "all") whose output goes to `dump`."""

    spec: str
    print_after: set[str] = field(default_factory=set)
    dump: Callable[[str, ModuleOp], None] | None = None

    def passes(self) -> tuple[ModulePass, ...]:
        return self._pipeline().passes

    def _pipeline(self) -> PassPipeline:
        try:
            return PassPipeline.parse_spec(available(), self.spec, self._callback)
        except ValueError as err:
            known = ", ".join(sorted(_PASSES))
            raise UsageError(f"bad pipeline '{self.spec}': {err} (known passes: {known})") from None
        except Exception as err:  # the spec parser raises its own ParseError subclasses
            raise UsageError(f"bad pipeline '{self.spec}': {str(err).splitlines()[-1]}") from None

    def _callback(self, prev: ModulePass | None, module: ModuleOp, _next) -> None:
        if prev is None or self.dump is None:
            return
        if "all" in self.print_after or prev.name in self.print_after:
            self.dump(prev.name, module)

    def run(self, module: ModuleOp) -> ModuleOp:
        from spiraltorch.ir import text

        unknown = self.print_after - set(_PASSES) - {"all"}
        if unknown:
            raise UsageError(f"--print-after names unknown pass(es): {', '.join(sorted(unknown))}")
        if not self.spec:
            return module
        pipeline = self._pipeline()
        try:
            pipeline.apply(text.context(), module)
        except SpiralError:
            raise
        except Exception as err:
            raise CompileError(f"pass pipeline '{self.spec}' failed: {str(err).splitlines()[0]}") from err
        text.verify(module)
        return module
