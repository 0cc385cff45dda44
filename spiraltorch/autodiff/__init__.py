"""Automatic differentiation as an IR transformation (see docs/passes/autodiff.md).

`transforms` holds the user API (st.grad, st.value_and_grad, st.vjp, st.jvp), which traces to
`spiral.vjp` / `spiral.jvp` ops; `expand` is what the `autodiff` pass runs to replace them by the
derivative code built from the per-op rules in `vjp_rules` and `jvp_rules`.
"""
