"""`SGD`: torch.optim.SGD's update (momentum, Nesterov, L2 weight decay), pure and pytree-mapped."""

from __future__ import annotations

from spiraltorch.errors import UsageError
from spiraltorch.frontend import pytree
from spiraltorch.optim.optimizer import Optimizer, check_float, finish, like, zeros_like


class SGD(Optimizer):
    """Stochastic gradient descent, exactly torch.optim.SGD (dampening 0, maximize False). Per parameter p with
    gradient g:

        g = g + weight_decay * p                     (if weight_decay != 0)
        b = momentum * b + g                         (if momentum != 0; b starts at 0, so b_1 = g as in torch)
        g = g + momentum * b   if nesterov   else b  (if momentum != 0)
        p = p - lr * g

    State: {"momentum_buffer": pytree like params} when momentum != 0, else {}.
    """

    def __init__(self, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        self.lr = check_float("SGD", "lr", lr)
        self.momentum = check_float("SGD", "momentum", momentum)
        self.weight_decay = check_float("SGD", "weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise UsageError("SGD: nesterov=True needs a momentum > 0")

    def hyper(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "nesterov": self.nesterov}

    def init(self, params):
        leaves, td = self.param_leaves(params)
        if not self.momentum:
            return {}
        return {"momentum_buffer": pytree.unflatten(td, [zeros_like(p) for p in leaves])}

    def update(self, params, grads, state, *, lr=None):
        """(params, state) after one step. lr overrides the constructor's (a Python float or a traced 0-d
        tensor, e.g. a learning-rate schedule passed into the compiled step)."""
        lr = self.lr if lr is None else lr
        ps, td = self.param_leaves(params)
        gs = self.matching_leaves("grads", grads, td)
        mu, wd = self.momentum, self.weight_decay
        if mu:
            if not isinstance(state, dict) or "momentum_buffer" not in state:
                raise UsageError("SGD.update: the state has no 'momentum_buffer'; make it with opt.init(params)")
            bs = self.matching_leaves("the momentum buffers", state["momentum_buffer"], td)
        new_p, new_b = [], []
        for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
            g = like(g, p)  # torch requires grads of the parameter's dtype; we convert
            if wd:
                g = g + wd * p
            if mu:
                b = like(mu * bs[i] + g, p)
                new_b.append(b)
                g = g + mu * b if self.nesterov else b
            new_p.append(like(p - lr * g, p))
        new_state = {"momentum_buffer": pytree.unflatten(td, new_b)} if mu else {}
        return finish((pytree.unflatten(td, new_p), new_state))
