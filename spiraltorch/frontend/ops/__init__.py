"""Every public op function, gathered from one module per op family (each declares __all__)."""

from spiraltorch.frontend.ops import creation as _creation
from spiraltorch.frontend.ops import elementwise as _elementwise
from spiraltorch.frontend.ops import linalg as _linalg
from spiraltorch.frontend.ops import nn as _nn
from spiraltorch.frontend.ops import rankk as _rankk
from spiraltorch.frontend.ops import reduction as _reduction
from spiraltorch.frontend.ops import shape as _shape
from spiraltorch.frontend.ops.creation import *  # noqa: F403
from spiraltorch.frontend.ops.elementwise import *  # noqa: F403
from spiraltorch.frontend.ops.linalg import *  # noqa: F403
from spiraltorch.frontend.ops.nn import *  # noqa: F403
from spiraltorch.frontend.ops.rankk import *  # noqa: F403
from spiraltorch.frontend.ops.reduction import *  # noqa: F403
from spiraltorch.frontend.ops.shape import *  # noqa: F403

_FAMILIES = [_elementwise, _creation, _reduction, _nn, _linalg, _shape, _rankk]
__all__ = [name for fam in _FAMILIES for name in fam.__all__]
