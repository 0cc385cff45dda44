"""`Sequential`: layers applied in order; parameters keyed by position."""

from __future__ import annotations

from spiraltorch.errors import TraceError, UsageError
from spiraltorch.frontend import trace as tr
from spiraltorch.nn.module import Lambda, Module


class Sequential(Module):
    """Sequential(m0, m1, ...)(params, x) = m_last(params[str(last)], ... m0(params["0"], x)).

    Parameters: a dict {"0": params of m0, "1": params of m1, ...} with one entry per layer, by position;
    layers without parameters (activations, Flatten, ...) get an empty dict `{}`, so the keys match torch's
    `nn.Sequential` state-dict prefixes ("0.weight", "2.weight", ...). A plain callable f(x) may be used as a
    layer (wrapped in `Lambda`). init(seed) passes ONE generator, default_rng(seed), through the layers in
    order, so the first layer's parameters equal that layer's own init(seed).
    """

    def __init__(self, *modules):
        self.layers: list[Module] = []
        for i, m in enumerate(modules):
            if isinstance(m, Module):
                self.layers.append(m)
            elif callable(m):
                self.layers.append(Lambda(m))
            else:
                raise UsageError(f"Sequential: layer {i} is a {type(m).__name__}, not a Module or a callable")

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(*self.layers[i])
        return self.layers[i]

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {m!r}" for i, m in enumerate(self.layers))
        return f"Sequential({inner}\n)" if inner else "Sequential()"

    def init_params(self, rng):
        return {str(i): m.init_params(rng) for i, m in enumerate(self.layers)}

    def forward(self, params, x):
        if not isinstance(params, dict) or sorted(params) != sorted(str(i) for i in range(len(self.layers))):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise tr.user_error(
                f"Sequential of {len(self.layers)} layers expects parameters keyed "
                f"{[str(i) for i in range(len(self.layers))]}, got {got}; pass the pytree made by init()"
            )
        for i, m in enumerate(self.layers):
            try:
                x = m(params[str(i)], x)
            except TraceError as err:
                if len(err.args) != 1 or not isinstance(err.args[0], str) or "(Sequential layer " in err.args[0]:
                    raise
                raise TraceError(f"{err.args[0]} (Sequential layer {i})") from None
        return x
