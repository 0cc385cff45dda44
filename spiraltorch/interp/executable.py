"""The `interp` target: compiled functions that run on the reference interpreter."""

from __future__ import annotations

import numpy as np

from spiraltorch.interp.interpreter import ModuleRunner


class InterpExecutable:
    def __init__(self, lowered):
        module = lowered.module
        if any(op.name in ("spiral.vjp", "spiral.jvp") for op in module.walk()):
            from spiraltorch.passes.registry import PipelineRun

            module = PipelineRun("autodiff").run(module.clone())
        self.runner = ModuleRunner(module)
        self.func_name = lowered.func_name
        self.dtypes = [s.np_dtype for s in lowered.in_specs]

    def __call__(self, leaves):
        args = [np.asarray(leaf, dtype=dt) for leaf, dt in zip(leaves, self.dtypes, strict=True)]
        outs = self.runner(self.func_name, args)
        # Outputs never alias inputs (a function returning its argument gets a copy).
        ids = {id(a) for a in args}
        return [o.copy() if id(o) in ids else o for o in outs]


class InterpTarget:
    name = "interp"

    def compile(self, lowered) -> InterpExecutable:
        return InterpExecutable(lowered)
