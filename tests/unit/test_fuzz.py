"""The random-program fuzzer (spiraltorch/fuzz/): the CPU backend against the interpreter, and the
generator itself.

SPIRAL_FUZZ_EXAMPLES sets how many programs the CPU property checks (default 200); for long runs use
`python -m spiraltorch.fuzz --examples 10000 --target cpu`.
"""

import contextlib
import io
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import spiraltorch as st
from spiraltorch import fuzz, targets
from spiraltorch.fuzz import check as fz_check
from spiraltorch.fuzz import params as fz_params
from spiraltorch.fuzz import program as fz_program
from spiraltorch.fuzz import support as fz_support

EXAMPLES = int(os.environ.get("SPIRAL_FUZZ_EXAMPLES", 200))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fuzz.programs(target="cpu"))
def test_cpu_matches_interpreter(program):
    fuzz.check_program(program, "cpu")


# --- the generator ------------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fuzz.programs(target="interp", strict=True))
def test_generated_programs_are_valid(program):
    # strict: a step the frontend rejects would have raised GeneratorError while drawing.
    assert 1 <= program.n_ops <= 2 * 12  # (matmul may add the transpose it multiplies by)
    assert 1 <= len(program.arrays) <= 3 and program.outputs
    for a in program.arrays:
        assert a.ndim <= 4 and all(1 <= d <= 7 for d in a.shape)
    st.compile(program.fn, target="interp").lower(*program.arrays)  # traces
    # The interpreter against itself: the tolerance and NaN logic accept equal results.
    outs = fuzz.check_program(program, "interp")
    for out, err in zip(outs, program.errors, strict=True):
        if fuzz.is_float(fuzz.dtype_name(out)):
            assert err is not None and np.all(np.asarray(err) >= 0) and np.all(np.isfinite(err))
        else:
            assert err is None
    # The reproducer is a standalone script computing the same thing.
    scope = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(program.reproducer("interp"), "<reproducer>", "exec"), scope)  # noqa: S102
    for got, want in zip(scope["got"], outs, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(fz_check._bits(got), fz_check._bits(want))
    for name, a in zip(program.names, program.arrays, strict=True):
        assert scope[name].dtype == a.dtype and scope[name].shape == a.shape
        np.testing.assert_array_equal(fz_check._bits(scope[name]), fz_check._bits(a))  # bit-exact: -0.0, NaN
        assert fz_program._layout_of(scope[name]) == fz_program._layout_of(a)


def test_generated_programs_cover_the_op_set():
    seen = set()

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(fuzz.programs(target="interp", strict=True))
    def collect(program):
        seen.update(program.ops())

    collect()
    missing = set(fuzz.ALL_OPS) - seen
    assert len(missing) <= 8, f"never generated: {sorted(missing)}"


def test_op_set_is_a_parameter():
    ops = ["add", "exp", "sum"]
    used = set()

    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(fuzz.programs(target="interp", ops=ops, max_ops=4, strict=True))
    def collect(program):
        assert program.n_ops <= 4
        used.update(program.ops())

    collect()
    assert used <= set(ops) and used


def test_op_support_is_probed_per_target():
    # Every probe program is valid (the interpreter runs it) and the interpreter supports everything.
    assert set(fuzz.ALL_OPS) == set(fuzz.BUILDERS)
    assert fuzz.supported_ops("interp") == list(fuzz.ALL_OPS)
    x, y, labels, idx, b = fz_support._probe_inputs()
    for probe in fz_support._PROBES.values():
        st.compile(probe, target="interp")(x, y, labels, idx, b)
    cpu = fuzz.default_ops("cpu")
    assert cpu and set(cpu) <= set(fuzz.ALL_OPS)
    assert not set(cpu) & set(fuzz.KNOWN_BUGS.get("cpu", {}))
    for op in set(fuzz.ALL_OPS) - set(fuzz.supported_ops("cpu")):
        assert fuzz.op_support("cpu", op)  # the reason: the CompileError's message


# --- the check ----------------------------------------------------------------------------------------


class _FaultyTarget:
    """The interpreter, with one element of the first output changed."""

    def compile(self, lowered):
        run = targets.get("interp").compile(lowered)

        def wrong(leaves):
            outs = [np.array(o) for o in run(leaves)]
            o = outs[0].reshape(-1)
            v = o.astype(np.float64)
            fin = np.isfinite(v)
            if o.dtype == np.bool_:
                o[0] = ~o[0]
            elif o.dtype.kind == "i":
                o[0] += 1
            elif fin.any():
                j = int(np.argmax(np.where(fin, np.abs(v), -1)))
                big = o.dtype in (np.float16, st.bfloat16)
                o[j] = v[j] + (1 + abs(v[j]) if big else 1e-3 * abs(v[j]) + 1e-3)
            else:
                o[0] = 1.0
            return outs

        return wrong


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fuzz.programs(target="interp"))
def test_check_program_catches_wrong_results(program):
    real_get = targets.get
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(targets, "get", lambda name: _FaultyTarget() if name == "faulty" else real_get(name))
        with pytest.raises(fuzz.Mismatch, match="differs from the interpreter"):
            fuzz.check_program(program, "faulty")


def test_check_program_tolerance_and_specials():
    nan, inf = np.nan, np.inf
    want = np.array([1.0, nan, inf, -inf, 0.0], np.float32)
    err = np.array([1e-3, 0, 0, 0, 0])
    bump = np.array([1, 0, 0, 0, 0], np.float32)
    assert fz_check._compare(0, want + 3e-3 * bump, want, err, 1, None, None) is None  # within 4 error bounds
    assert "outside tolerance" in fz_check._compare(0, want + 5e-3 * bump, want, err, 1, None, None)
    assert "outside tolerance" in fz_check._compare(0, want + 1e-5 * bump[::-1], want, err, 1, None, None)
    assert "NaN positions" in fz_check._compare(0, np.array([1, 0, inf, -inf, 0], np.float32), want, err, 1, None, None)
    assert "infinities" in fz_check._compare(0, np.array([1, nan, -inf, -inf, 0], np.float32), want, err, 1, None, None)
    ints = np.array([1, 2, 3], np.int32)
    assert fz_check._compare(0, ints, ints, None, 1, None, None) is None
    assert "differ" in fz_check._compare(0, ints + np.array([0, 0, 1], np.int32), ints, None, 1, None, None)
    assert "dtype" in fz_check._compare(0, ints.astype(np.int64), ints, None, 1, None, None)


def test_array_source_round_trips():
    rng = np.random.default_rng(3)
    for dt in fuzz.DTYPES:
        a = rng.uniform(-5, 5, (2, 3)).astype(np.float64)
        a[0, 0], a[0, 1], a[0, 2], a[1, 0] = np.nan, np.inf, -np.inf, -0.0
        a = a.astype(fz_params._NP[dt]) if fuzz.is_float(dt) else (a[np.isfinite(a)].reshape(-1)[:3] * 7).astype(
            fz_params._NP[dt])
        b = eval(fuzz.array_source(a), {"np": np, "st": st})  # noqa: S307
        assert b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_array_equal(fz_check._bits(b), fz_check._bits(a))
    assert eval(fuzz.array_source(np.float32(2.5).reshape(())), {"np": np}).shape == ()  # noqa: S307


def test_cli_runs():
    assert fuzz.main(["--examples", "3", "--batch", "3", "--target", "interp", "--max-ops", "3"]) == 0
