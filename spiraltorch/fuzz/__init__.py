"""Random well-typed SpiralTorch programs, for differential testing of a target against the interpreter.

    from hypothesis import given
    from spiraltorch import fuzz

    @given(fuzz.programs(target="cpu"))
    def test_cpu_matches_interpreter(program):
        fuzz.check_program(program, "cpu")

or, for a long run: `python -m spiraltorch.fuzz --examples 10000 --target cpu`. Gradient mode
(`python -m spiraltorch.fuzz --grad --examples 300 --target cpu`, module grad): derivatives of the programs
(`programs(grad=True)`), see the end of this docstring.

Modules: params (tolerances, dtypes), program (Step, Program, reproducer source), check (check_program),
support (which ops a target compiles), generator (_Gen and the error analyses), builders (one per op),
strategy (`programs`), grad (gradient mode), cli (long runs).

A `Program` is a small DAG of public ops (1-12 by default) over 1-3 random input arrays, kept as a list
of `Step`s; `program.fn` replays the steps (a closure over the list, so st.compile traces it like user
code) and `repr(program)` is a standalone Python script that reproduces it. The op set is a parameter;
by default it is every op the target compiles: support is probed with a tiny one-op compile (for the cpu
target only its front half, kernel lowering and LLVM IR emission, where unsupported ops are refused), once
per op and again once per (op, operand dtypes, result dtypes), all cached, so the fuzzer follows the
backend as ops and dtypes land. KNOWN_BUGS lists what is left out because of a bug found here.

How the generator keeps programs meaningful. Every step is run on the interpreter while it is drawn, so
its preconditions are checked on real values, not guessed:
* Shapes and dtypes: only ops whose static preconditions hold are built (float-only ops on floats,
  matmul inner dims, valid axes, k <= axis length, broadcastable operands, promotable dtypes...).
* Each float value carries an elementwise bound `err` on how far another correct implementation may be
  from the interpreter (a running error analysis: input errors are propagated through the op, by
  evaluating elementwise ops at the corners of the error box in float64, and each op adds its own
  rounding / approximation error). Values the interpreter computes exactly (inputs, shape ops,
  selections) have err == 0.
* Ops that are discontinuous (comparisons, truth values, float->int casts, floor division, argmax,
  topk ranking, NaN domains of log/sqrt/pow) are only applied where the decision is robust: at least
  ROBUST times the error bound away from the discontinuity, or on exact values. Undefined behaviour is
  never generated (float->int casts of NaN/out-of-range values, integer overflow, 1/(+-0) whose sign
  depends on the sign of a zero); defined special values are (log of negatives, NaN/inf inputs,
  integer division by zero, out-of-range labels and indices).
* Values close to overflow, and results whose error bound is no longer small next to their magnitude,
  are rejected, and the generator draws another op.
Inputs come in several memory layouts (C, Fortran, negative strides, strided views, read-only views).

`check_program` compiles the program for the target, calls it once on other values of the same shapes
(leftover state must not matter), then twice on the inputs (the two results must be bitwise equal), and
requires, for every output: exact equality for ints and bools; for floats the same NaN/inf positions and
|got - want| <= TOL * err + (rtol * |want| + atol) * n_ops (rtol/atol per dtype, BASE_TOL).

Gradient mode. `programs(grad=True)` draws programs whose derivatives are well defined at the inputs: a float
first input, no NaN/inf/exact-tie input profiles, every float value finite, relu/abs/maximum/minimum/max/min
applied ROBUST error bounds away from their kinks, exact ties only where they are structural (they survive
moving the inputs: x - x, broadcast copies), no power with a varying exponent on a non-positive base, and an
output that depends on a float input. `check_grad_program` makes the program scalar, L = sum_i sum(y_i * w_i)
with fixed random weights w_i, and checks (a) reverse mode (st.value_and_grad) and forward mode (st.jvp)
against central finite differences at two steps, in float64 on the interpreter (skipping, and counting, the
rare examples where the two finite differences disagree: a kink or jump within the step), and (b) the
gradient module compiled for the target against the interpreter, with check_program's comparison.
KNOWN_GRAD_BUGS lists what gradient mode leaves out because of a bug found here.
"""

from spiraltorch.fuzz.builders import ALL_OPS, ANALYSIS, BUILDERS
from spiraltorch.fuzz.check import Mismatch, check_program
from spiraltorch.fuzz.cli import RunResult, main, run
from spiraltorch.fuzz.grad import (
    GradMismatch,
    GradOutcome,
    GradRunResult,
    check_grad_fd,
    check_grad_program,
    check_grad_target,
    run_grad,
)
from spiraltorch.fuzz.params import (
    DTYPES,
    FLOATS,
    INTS,
    KNOWN_BUGS,
    KNOWN_GRAD_BUGS,
    GeneratorError,
    dtype_name,
    is_float,
    known_grad_bugs,
    stats,
)
from spiraltorch.fuzz.program import Program, Step, array_source, make_function, with_layout
from spiraltorch.fuzz.strategy import programs
from spiraltorch.fuzz.support import default_ops, op_support, supported_ops, unsupported

__all__ = [
    "ALL_OPS", "ANALYSIS", "BUILDERS", "DTYPES", "FLOATS", "INTS", "KNOWN_BUGS", "KNOWN_GRAD_BUGS", "GeneratorError",
    "GradMismatch", "GradOutcome", "GradRunResult", "Mismatch", "Program", "RunResult", "Step", "array_source",
    "check_grad_fd", "check_grad_program", "check_grad_target", "check_program", "default_ops", "dtype_name",
    "is_float", "known_grad_bugs", "main", "make_function", "op_support", "programs", "run", "run_grad", "stats",
    "supported_ops", "unsupported", "with_layout",
]
