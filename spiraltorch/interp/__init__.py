"""The reference interpreter: runs any SpiralIR module with numpy. It is the semantic oracle that
every pass and backend is tested against, and the `interp` target of st.compile."""

from spiraltorch.interp.interpreter import run_module

__all__ = ["run_module"]
