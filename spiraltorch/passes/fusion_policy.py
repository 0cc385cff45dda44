"""FusionPolicy: every fusion heuristic in one overridable object that can say why it decided (in the spirit of
Inductor's choices.py). The `fuse` pass asks it; `SPIRAL_LOG=fusion` and `stc ir --explain-fusion` print its
answers.

Today's groups are elementwise: ops computed per element over one iteration space (the shape of their result),
reading inputs through broadcast views. A group becomes one loop nest that loads each input once and stores only the
values used outside the group.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import Operation

from spiraltorch.ir import dtypes
from spiraltorch.ir.ops import elementwise as ew
from spiraltorch.ir.ops.creation import FullOp

ELEMENTWISE = tuple(ew.OPS)


@dataclass
class Decision:
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class FusionPolicy:
    """Override a method to change a decision; each returns a Decision with a readable reason."""

    max_size: int = 64  # ops per group: LLVM time grows with kernel size, and register pressure with it

    def groupable(self, op: Operation) -> Decision:
        if isinstance(op, ELEMENTWISE):
            return Decision(True, "elementwise")
        return Decision(False, f"{op.name} is not elementwise (kept as its own kernel)")

    def inlinable_constant(self, op: Operation) -> bool:
        """Splat constants are rematerialized inside every group that reads them (free in registers)."""
        return isinstance(op, FullOp)

    def can_join(self, group_shape: tuple[int, ...], group_size: int, op: Operation) -> Decision:
        shape = dtypes.shape_of(op.results[0].type)
        if shape != group_shape:
            return Decision(False, f"iteration spaces differ: {shape} vs the group's {group_shape}")
        if group_size + 1 > self.max_size:
            return Decision(False, f"the group already has max-size={self.max_size} ops")
        return Decision(True, f"same iteration space {shape}")

    def pair_loss_with_gradient(self) -> Decision:
        """Put spiral.cross_entropy and spiral.cross_entropy_grad of the same logits and labels in one row kernel."""
        return Decision(True, "the forward loss and its gradient share each row's max and sum of exponentials")

    def absorbs_reduction(self, group_shape: tuple[int, ...], group_size: int, op: Operation) -> Decision:
        """Can the group feed reduction `op` from registers (the reduction's input computed inside its loop)?"""
        from spiraltorch.ir.ops import reduction as rd

        if not isinstance(op, (rd.SumOp, rd.MeanOp, rd.MaxOp, rd.MinOp)):
            return Decision(False, f"{op.name} is not a sum/mean/max/min reduction")
        if dtypes.dtype_of(op.result.type).kind == "b":
            return Decision(False, "bool reductions keep their own kernel")
        if dtypes.shape_of(op.input.type) != group_shape:
            return Decision(False, f"the reduction's input shape differs from the group's {group_shape}")
        if group_size + 1 > self.max_size:
            return Decision(False, f"the group already has max-size={self.max_size} ops")
        return Decision(True, "its input is computed in the reduction loop and never stored")

    def starts_epilogue_group(self, op: Operation) -> Decision:
        """A 2-D float32 matmul (the generated GEMM) can carry an elementwise epilogue: each band of C is finished
        (bias, activation, ...) right after the GEMM computed it, while it is still in cache."""
        from spiraltorch.ir.ops.linalg import MatmulOp

        if not isinstance(op, MatmulOp):
            return Decision(False, f"{op.name} is not a matmul")
        t = op.result.type
        if len(dtypes.shape_of(t)) != 2 or dtypes.dtype_of(t).name != "f32":
            return Decision(False, "only 2-D float32 matmuls (the GEMM path) take an epilogue")
        return Decision(True, "its consumers of the same shape can run in the GEMM's band loop")

    def worth_a_group(self, size: int) -> Decision:
        if size < 2:
            return Decision(False, "a single op gains nothing from a fused kernel")
        return Decision(True, f"{size} ops in one kernel")
