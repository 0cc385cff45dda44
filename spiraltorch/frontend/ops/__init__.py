"""Every public op function, gathered from one module per op family (each declares __all__)."""

from spiraltorch.frontend.ops import elementwise as _elementwise
from spiraltorch.frontend.ops.elementwise import *  # noqa: F403

_FAMILIES = [_elementwise]
__all__ = [name for fam in _FAMILIES for name in fam.__all__]
