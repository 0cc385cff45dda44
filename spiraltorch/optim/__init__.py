"""`st.optim`: optimizers as pure pytree functions, usable inside a compiled training step.

    opt = st.optim.Adam(1e-3)
    opt_state = opt.init(params)                                   # pytree of numpy arrays
    params, opt_state = opt.update(params, grads, opt_state)       # pure; traces inside st.compile

See docs/nn.md for the exact update formulas (torch.optim's).
"""

from spiraltorch.optim.adam import Adam, AdamW
from spiraltorch.optim.optimizer import Optimizer
from spiraltorch.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
