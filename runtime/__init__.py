"""SpiralTorch's minimal runtime: loads and runs compiled artifacts without importing the compiler.

    import runtime
    model = runtime.load("model.stpack")   # built by `stc build`
    y = model(x)                           # or model(x=x); outputs come back in the function's pytree

Needs numpy only (plus ml_dtypes for bfloat16 tensors); see runtime/artifact.py for the format.
"""

from runtime.artifact import Artifact, ArtifactError, load

__all__ = ["Artifact", "ArtifactError", "load"]
