"""Neural-network ops: softmax, log_softmax, cross_entropy, nll_loss, one_hot.

Each stays one op in the IR (later passes fuse or lower them). Float ops take floating-point
tensors only (the frontend casts integers following numpy's np.exp rule). Losses take logits or
log-probabilities of shape (*B, C) with the class axis LAST and integer labels (i32/i64) of shape
(*B); `reduction` is "mean" (sum / number of labels), "sum" or "none" (per-label losses, shape B).
See docs/ir/nn.md for the exact semantics (NaN / inf rows, out-of-range labels).
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, IntegerAttr, StringAttr, TensorType
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from spiraltorch.ir import shapes
from spiraltorch.ir.ops.base import SpiralOp, dtype, shape, tensor
from spiraltorch.ir.shapes import ShapeError

REDUCTIONS = ("mean", "sum", "none")


def require_label_dtype(op_name: str, t) -> None:
    dt = dtype(t)
    if dt.kind != "i":
        raise ShapeError(f"{op_name} labels must be an integer tensor (i32 or i64) of class indices, got {dt.name}")


def check_reduction(op_name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ShapeError(f'{op_name} reduction must be "mean", "sum" or "none", got "{reduction}"')


class SoftmaxLikeOp(SpiralOp):
    """Normalization along one axis; the result has the input's type."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    @classmethod
    def infer(cls, types, axis: int = -1, **props):
        (t,) = types
        if not dtype(t).is_float:
            raise ShapeError(f"{cls.name} expects a floating-point tensor, got {dtype(t).name}")
        try:
            shapes.normalize_axis(axis, len(shape(t)))
        except ShapeError as err:
            raise ShapeError(f"{cls.name}: {err}") from None
        return [t]


@irdl_op_definition
class SoftmaxOp(SoftmaxLikeOp):
    """exp(x - max) / sum(exp(x - max)) along `axis`."""

    name = "spiral.softmax"


@irdl_op_definition
class LogSoftmaxOp(SoftmaxLikeOp):
    """x - logsumexp(x) along `axis`, computed as (x - max) - log(sum(exp(x - max)))."""

    name = "spiral.log_softmax"


class LossOp(SpiralOp):
    """loss[b] = f(scores[b, :], labels[b]) reduced by `reduction`."""

    scores = operand_def(TensorType)
    labels = operand_def(TensorType)
    result = result_def(TensorType)
    reduction = prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$scores `,` $labels attr-dict `:` type($scores) `,` type($labels) `->` type($result)"
    # How the first operand is called in messages.
    SCORES: ClassVar[str] = "logits"

    @classmethod
    def infer(cls, types, reduction: str = "mean", **props):
        s, lab = types
        check_reduction(cls.name, reduction)
        ss = shape(s)
        if not dtype(s).is_float:
            raise ShapeError(f"{cls.name} {cls.SCORES} must be a floating-point tensor, got {dtype(s).name}")
        if len(ss) == 0:
            raise ShapeError(
                f"{cls.name} {cls.SCORES} must have rank >= 1 (classes on the last axis), got a 0-d tensor"
            )
        if ss[-1] == 0:
            raise ShapeError(f"{cls.name} needs at least one class: {cls.SCORES} shape {ss} has an empty last axis")
        require_label_dtype(cls.name, lab)
        if shape(lab) != ss[:-1]:
            raise ShapeError(
                f"{cls.name} labels shape {shape(lab)} must equal the {cls.SCORES} shape without its last "
                f"(class) axis: {cls.SCORES} {ss} needs labels {ss[:-1]}"
            )
        out = ss[:-1] if reduction == "none" else ()
        return [tensor(out, dtype(s))]


@irdl_op_definition
class CrossEntropyOp(LossOp):
    """-log_softmax(logits)[..., label]; an out-of-range label gives NaN."""

    name = "spiral.cross_entropy"


@irdl_op_definition
class NllLossOp(LossOp):
    """-log_probs[..., label]; an out-of-range label gives NaN."""

    name = "spiral.nll_loss"
    SCORES: ClassVar[str] = "log_probs"


@irdl_op_definition
class OneHotOp(SpiralOp):
    """result[..., c] = (labels[...] == c) converted to the result dtype; labels outside
    [0, num_classes) give an all-zero row. The result dtype is the result type's."""

    name = "spiral.one_hot"
    labels = operand_def(TensorType)
    result = result_def(TensorType)
    num_classes = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$labels attr-dict `:` type($labels) `->` type($result)"

    @classmethod
    def result_shape(cls, labels_shape, num_classes: int) -> tuple[int, ...]:
        if num_classes < 1:
            raise ShapeError(f"{cls.name} num_classes must be >= 1, got {num_classes}")
        return (*labels_shape, num_classes)

    def check(self):
        require_label_dtype(self.name, self.labels.type)
        want = self.result_shape(shape(self.labels.type), self.props()["num_classes"])
        got = shape(self.result.type)
        if got != want:
            raise ShapeError(
                f"{self.name} result shape {got} must be the labels shape followed by num_classes: {want}"
            )


@irdl_op_definition
class CrossEntropyGradOp(SpiralOp):
    """The gradient of spiral.cross_entropy w.r.t. its logits, as one op (the autodiff pass emits it):
    (softmax(logits) - one_hot(labels)) * scale, with scale = g / (number of labels) for "mean", g for "sum",
    g[..., None] for "none" (g has the loss's shape). One pass per row, no log of a probability, no one-hot
    tensor in memory; labels outside [0, C) give softmax * scale (the loss itself is NaN there)."""

    name = "spiral.cross_entropy_grad"
    logits = operand_def(TensorType)
    labels = operand_def(TensorType)
    g = operand_def(TensorType)
    result = result_def(TensorType)
    reduction = prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = ("$logits `,` $labels `,` $g attr-dict `:` type($logits) `,` type($labels) `,` type($g) "
                       "`->` type($result)")

    @classmethod
    def infer(cls, types, reduction: str = "mean", **props):
        logits, labels, g = types
        (loss,) = CrossEntropyOp.infer([logits, labels], reduction=reduction)
        if g != loss:
            raise ShapeError(f"{cls.name} cotangent must have the loss's type {loss}, got {g}")
        return [logits]


OPS = [SoftmaxOp, LogSoftmaxOp, CrossEntropyOp, NllLossOp, OneHotOp, CrossEntropyGradOp]
