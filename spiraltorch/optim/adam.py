"""`Adam` and `AdamW`: torch.optim.Adam / AdamW's updates, pure and pytree-mapped."""

from __future__ import annotations

import numpy as np

import spiraltorch as st
from spiraltorch.errors import UsageError
from spiraltorch.frontend import pytree
from spiraltorch.optim.optimizer import Optimizer, check_float, finish, like, scalar_zero, zeros_like


class Adam(Optimizer):
    """Adam, exactly torch.optim.Adam (maximize False). With t the step count after incrementing, per parameter p
    with gradient g:

        g = g + weight_decay * p                     (if weight_decay != 0; AdamW decays p instead, see there)
        m = m + (1 - beta1) * (g - m)                (= beta1*m + (1-beta1)*g, torch's lerp)
        v = beta2 * v + (1 - beta2) * g * g
        vmax = maximum(vmax, v)                      (amsgrad only; then vmax replaces v below)
        step_size = lr / (1 - beta1**t)
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        p = p - step_size * (m / denom)

    The bias corrections are computed once per step in float64 from t (as torch does on the host) and rounded
    to each parameter's dtype. State: {"step": float32 0-d array, "exp_avg": pytree like params, "exp_avg_sq":
    like params} (+ "max_exp_avg_sq" with amsgrad). The float32 step counts exactly up to 2**24 steps.
    """

    decoupled = False

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        owner = type(self).__name__
        self.lr = check_float(owner, "lr", lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise UsageError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (check_float(owner, "beta1", betas[0], high=1.0), check_float(owner, "beta2", betas[1], high=1.0))
        self.eps = check_float(owner, "eps", eps)
        self.weight_decay = check_float(owner, "weight_decay", weight_decay)
        self.amsgrad = bool(amsgrad)

    def hyper(self) -> dict:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay,
                "amsgrad": self.amsgrad}

    def init(self, params):
        leaves, td = self.param_leaves(params)
        state = {"step": scalar_zero(),
                 "exp_avg": pytree.unflatten(td, [zeros_like(p) for p in leaves]),
                 "exp_avg_sq": pytree.unflatten(td, [zeros_like(p) for p in leaves])}
        if self.amsgrad:
            state["max_exp_avg_sq"] = pytree.unflatten(td, [zeros_like(p) for p in leaves])
        return state

    def update(self, params, grads, state, *, lr=None):
        """(params, state) after one step. lr overrides the constructor's (a Python float or a traced 0-d
        tensor, e.g. a learning-rate schedule passed into the compiled step)."""
        lr = self.lr if lr is None else lr
        name = type(self).__name__
        keys = ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())
        if not isinstance(state, dict) or any(k not in state for k in keys):
            raise UsageError(f"{name}.update: the state must be the dict made by opt.init(params) with keys "
                             f"{list(keys)}")
        ps, td = self.param_leaves(params)
        gs = self.matching_leaves("grads", grads, td)
        ms = self.matching_leaves("exp_avg", state["exp_avg"], td)
        vs = self.matching_leaves("exp_avg_sq", state["exp_avg_sq"], td)
        vmaxs = self.matching_leaves("max_exp_avg_sq", state["max_exp_avg_sq"], td) if self.amsgrad else None
        b1, b2 = self.betas
        wd, eps = self.weight_decay, self.eps

        step = st.add(state["step"], 1.0)
        t = st.astype(step, np.float64)
        step_size = st.divide(lr, st.subtract(1.0, st.power(b1, t)))
        bc2_sqrt = st.sqrt(st.subtract(1.0, st.power(b2, t)))
        decay = 1.0 - lr * wd if self.decoupled and wd else None  # a Python float unless lr is an array
        per_dtype: dict = {}

        new_p, new_m, new_v, new_vmax = [], [], [], []
        for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
            g = like(g, p)  # torch requires grads of the parameter's dtype; we convert
            if p.dtype not in per_dtype:
                per_dtype[p.dtype] = (st.astype(step_size, p.dtype), st.astype(bc2_sqrt, p.dtype),
                                      decay if decay is None or isinstance(decay, float) else
                                      st.astype(decay, p.dtype))
            ss, bs, dec = per_dtype[p.dtype]
            if dec is not None:
                p_dec = p * dec
            else:
                p_dec = p
                if wd:
                    g = g + wd * p
            m = like(ms[i] + (1.0 - b1) * (g - ms[i]), p)
            v = like(vs[i] * b2 + (1.0 - b2) * (g * g), p)
            new_m.append(m)
            new_v.append(v)
            if self.amsgrad:
                v = st.maximum(vmaxs[i], v)
                new_vmax.append(v)
            denom = st.sqrt(v) / bs + eps
            new_p.append(like(p_dec - ss * (m / denom), p))

        new_state = {"step": step, "exp_avg": pytree.unflatten(td, new_m), "exp_avg_sq": pytree.unflatten(td, new_v)}
        if self.amsgrad:
            new_state["max_exp_avg_sq"] = pytree.unflatten(td, new_vmax)
        return finish((pytree.unflatten(td, new_p), new_state))


class AdamW(Adam):
    """AdamW, exactly torch.optim.AdamW: Adam without the L2 term in the gradient; instead, first,

        p = p * (1 - lr * weight_decay)

    then the Adam update above from the decayed p. Default weight_decay = 1e-2 (torch's).
    """

    decoupled = True

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)
