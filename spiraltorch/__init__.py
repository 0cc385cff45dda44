"""SpiralTorch: an ahead-of-time compiler for ML model functions.

    import spiraltorch as st

    @st.compile
    def f(x, w, b):
        return st.softmax(st.relu(x @ w + b), axis=-1)
"""

from spiraltorch import nn, optim
from spiraltorch.autodiff.transforms import grad, jvp, value_and_grad, vjp
from spiraltorch.errors import CompileError, IRError, SpiralError, TraceError, UsageError
from spiraltorch.frontend.api import CacheInfo, CompiledFunction, Lowered, compile  # noqa: A004
from spiraltorch.frontend.ops import *  # noqa: F403
from spiraltorch.frontend.ops import __all__ as _ops_all
from spiraltorch.frontend.pytree import register_pytree_node
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir.dtypes import BY_NAME as _DT

float64, float32, float16, bfloat16 = (_DT[n].np for n in ("f64", "f32", "f16", "bf16"))
int64, int32, bool_ = (_DT[n].np for n in ("i64", "i32", "i1"))

__version__ = "0.1.0"
__all__ = [
    "compile", "grad", "value_and_grad", "vjp", "jvp",
    "CompiledFunction", "Lowered", "CacheInfo", "Tensor", "register_pytree_node",
    "SpiralError", "TraceError", "IRError", "CompileError", "UsageError",
    "float64", "float32", "float16", "bfloat16", "int64", "int32", "bool_", *_ops_all,
    "nn", "optim",
]
