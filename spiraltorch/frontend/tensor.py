"""The proxy Tensor seen by traced code: numpy-like attributes and operators that emit SpiralIR.

Anything that would need the value of a traced tensor at trace time (bool(), float(), .item(),
np.asarray) raises a TraceError naming the user's line, with a hint of what to do instead.
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import SSAValue

from spiraltorch.ir import dtypes


def _ops():
    # Late import: the op modules import this one.
    from spiraltorch.frontend import ops

    return ops


class Tensor:
    """A traced value. `weak` marks a traced Python scalar, which adopts the dtype of its partner
    in arithmetic the way numpy treats Python scalars (NEP 50)."""

    __slots__ = ("value", "trace", "weak")
    # Make numpy defer to our reflected operators (np_array + tensor -> Tensor.__radd__).
    __array_priority__ = 1000

    def __init__(self, value: SSAValue, trace, weak: bool = False):
        self.value = value
        self.trace = trace
        self.weak = weak

    # -- static facts --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return dtypes.shape_of(self.value.type)

    @property
    def dtype(self) -> np.dtype:
        return dtypes.dtype_of(self.value.type).np

    @property
    def ir_dtype(self) -> dtypes.DType:
        return dtypes.dtype_of(self.value.type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        return f"Tensor(shape={self.shape}, dtype={dtypes.dtype_of(self.value.type).name}, traced)"

    __hash__ = object.__hash__

    # -- values are unknown while tracing --------------------------------------------------------
    def _concrete(self, what: str):
        from spiraltorch.frontend.trace import user_error

        raise user_error(
            f"{what} needs the value of a traced tensor, which is unknown while compiling; "
            "use st.where for data-dependent choices, or pass the value as a static argument (static_argnums)"
        )

    def __bool__(self):
        self._concrete("bool() (an `if`, `while`, `and`/`or` or assert on a tensor)")

    def __float__(self):
        self._concrete("float()")

    def __int__(self):
        self._concrete("int()")

    def __index__(self):
        self._concrete("using a tensor as a Python index")

    def __complex__(self):
        self._concrete("complex()")

    def item(self):
        self._concrete(".item()")

    def tolist(self):
        self._concrete(".tolist()")

    def __array__(self, dtype=None, copy=None):
        self._concrete("converting to a numpy array (np.asarray / np.array)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # np.exp(t), np.maximum(t, 0), ... map onto our ops of the same name.
        fn = getattr(_ops(), _UFUNCS.get(ufunc.__name__, ufunc.__name__), None)
        if method != "__call__" or kwargs or fn is None:
            from spiraltorch.frontend.trace import user_error

            raise user_error(f"numpy.{ufunc.__name__} ({method}) is not supported on traced tensors")
        return fn(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        fn = getattr(_ops(), func.__name__, None)
        if fn is None:
            from spiraltorch.frontend.trace import user_error

            raise user_error(f"numpy.{func.__name__} is not supported on traced tensors; use st.{func.__name__} "
                             "if SpiralTorch has it")
        return fn(*args, **kwargs)

    # -- operators -----------------------------------------------------------------------------
    def __add__(self, o):
        return _ops().add(self, o)

    def __radd__(self, o):
        return _ops().add(o, self)

    def __sub__(self, o):
        return _ops().subtract(self, o)

    def __rsub__(self, o):
        return _ops().subtract(o, self)

    def __mul__(self, o):
        return _ops().multiply(self, o)

    def __rmul__(self, o):
        return _ops().multiply(o, self)

    def __truediv__(self, o):
        return _ops().divide(self, o)

    def __rtruediv__(self, o):
        return _ops().divide(o, self)

    def __floordiv__(self, o):
        return _ops().floor_divide(self, o)

    def __rfloordiv__(self, o):
        return _ops().floor_divide(o, self)

    def __mod__(self, o):
        return _ops().mod(self, o)

    def __rmod__(self, o):
        return _ops().mod(o, self)

    def __pow__(self, o):
        return _ops().power(self, o)

    def __rpow__(self, o):
        return _ops().power(o, self)

    def __matmul__(self, o):
        return _ops().matmul(self, o)

    def __rmatmul__(self, o):
        return _ops().matmul(o, self)

    def __neg__(self):
        return _ops().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops().abs(self)

    def __invert__(self):
        return _ops().invert(self)

    def __and__(self, o):
        return _ops().bitwise_and(self, o)

    def __rand__(self, o):
        return _ops().bitwise_and(o, self)

    def __or__(self, o):
        return _ops().bitwise_or(self, o)

    def __ror__(self, o):
        return _ops().bitwise_or(o, self)

    def __xor__(self, o):
        return _ops().bitwise_xor(self, o)

    def __rxor__(self, o):
        return _ops().bitwise_xor(o, self)

    def __eq__(self, o):  # noqa: D105 - elementwise, like numpy
        return _ops().equal(self, o)

    def __ne__(self, o):
        return _ops().not_equal(self, o)

    def __lt__(self, o):
        return _ops().less(self, o)

    def __le__(self, o):
        return _ops().less_equal(self, o)

    def __gt__(self, o):
        return _ops().greater(self, o)

    def __ge__(self, o):
        return _ops().greater_equal(self, o)

    def __getitem__(self, index):
        return _ops().getitem(self, index)

    # -- numpy-style methods -------------------------------------------------------------------
    def astype(self, dtype):
        return _ops().astype(self, dtype)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops().reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops().transpose(self, axes or None)

    @property
    def T(self):  # noqa: N802 - numpy's name
        return _ops().transpose(self)

    def sum(self, axis=None, keepdims=False):
        return _ops().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops().mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _ops().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _ops().argmin(self, axis=axis, keepdims=keepdims)

    def squeeze(self, axis=None):
        return _ops().squeeze(self, axis)

    def flatten(self):
        return _ops().reshape(self, (-1,))

    def exp(self):
        return _ops().exp(self)

    def log(self):
        return _ops().log(self)


# numpy ufunc names that differ from ours.
_UFUNCS = {"true_divide": "divide", "absolute": "abs"}
