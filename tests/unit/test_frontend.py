"""Tracing, the compile cache, pytrees, static arguments and the errors users see."""

import collections
import inspect
import os

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.testing import assert_close, rand

RNG = np.random.default_rng(7)
HERE = os.path.basename(__file__)


def _line_of(marker: str) -> int:
    """Line number of the source line containing marker in this file."""
    for i, line in enumerate(inspect.getsource(inspect.getmodule(_line_of)).splitlines(), 1):
        if marker in line and "_line_of" not in line:
            return i
    raise AssertionError(marker)


def _expect_trace_error(fn, args, marker, *fragments):
    with pytest.raises(st.TraceError) as info:
        fn(*args)
    msg = str(info.value)
    assert f"{HERE}:{_line_of(marker)}:" in msg, msg
    for frag in fragments:
        assert frag in msg, msg
    assert "\n" not in msg, "errors are one line"


# --- decorator forms, calls ---------------------------------------------------------------------
def test_decorator_with_and_without_arguments():
    @st.compile
    def f(x):
        return x * 2

    @st.compile(target="interp")
    def g(x):
        return x * 2

    x = rand((3,), "f32", RNG)
    assert_close(f(x), x * 2)
    assert_close(g(x), x * 2)
    assert isinstance(f, st.CompiledFunction) and f.__name__ == "f"


def test_unknown_target_is_a_clear_error():
    with pytest.raises(st.UsageError, match="unknown target 'tpu'; available: .*interp"):
        st.compile(lambda x: x, target="tpu")


def test_kwargs_and_python_scalars():
    @st.compile
    def f(x, scale=1.0, *, shift):
        return x * scale + shift

    x = rand((2, 3), "f32", RNG)
    assert_close(f(x, 2.0, shift=0.5), (x * 2.0 + 0.5).astype(np.float32))
    assert_close(f(x, scale=3, shift=1), (x * 3 + 1).astype(np.float32))


# --- cache ----------------------------------------------------------------------------------------
def test_cache_hits_and_misses_are_observable():
    @st.compile
    def f(x, s):
        return x + s

    a = rand((4,), "f32", RNG)
    f(a, 1.0)
    assert f.cache_info() == st.CacheInfo(hits=0, misses=1, size=1)
    f(rand((4,), "f32", RNG), 2.5)  # same signature: Python scalars are traced, not baked in
    assert f.cache_info() == st.CacheInfo(hits=1, misses=1, size=1)
    f(rand((5,), "f32", RNG), 1.0)  # new shape
    f(rand((4,), "f64", RNG), 1.0)  # new dtype
    f(a, 1)  # int instead of float: a different weak type
    assert f.cache_info() == st.CacheInfo(hits=1, misses=4, size=4)
    f(a, 7.0)
    assert f.cache_info().hits == 2
    f.clear_cache()
    assert f.cache_info() == st.CacheInfo(0, 0, 0)


def test_static_args_specialize():
    traces = []

    @st.compile(static_argnums=1)
    def f(x, n):
        traces.append(n)
        for _ in range(n):
            x = st.tanh(x)
        return x

    x = rand((3,), "f32", RNG)
    assert_close(f(x, 2), np.tanh(np.tanh(x)), rtol=4e-6)
    f(x, 2)
    assert_close(f(x, 3), np.tanh(np.tanh(np.tanh(x))), rtol=4e-6)
    assert traces == [2, 3]
    assert f.cache_info() == st.CacheInfo(hits=1, misses=2, size=2)


def test_static_argnames():
    @st.compile(static_argnames=("mode",))
    def f(x, mode="relu"):
        return st.relu(x) if mode == "relu" else st.tanh(x)

    x = rand((5,), "f32", RNG)
    assert_close(f(x, mode="relu"), np.maximum(x, 0))
    assert_close(f(x, mode="tanh"), np.tanh(x), rtol=4e-6)
    assert f.cache_info().misses == 2


def test_python_control_flow_on_static_values():
    @st.compile
    def f(x):
        if x.shape[0] > 2 and x.dtype == np.float32:  # shapes and dtypes are static
            return x * 2
        return x

    assert_close(f(np.ones(3, np.float32)), np.full(3, 2, np.float32))
    assert_close(f(np.ones(2, np.float32)), np.ones(2, np.float32))


# --- pytrees --------------------------------------------------------------------------------------
Pair = collections.namedtuple("Pair", "a b")


def test_pytree_inputs_and_outputs():
    @st.compile
    def f(params, batch):
        h = batch["x"] * params["w"][0] + params["w"][1]
        return {"h": h, "pair": Pair(h * 2, None), "list": [batch["x"], 3.0]}

    params = {"w": (rand((4,), "f32", RNG), rand((4,), "f32", RNG))}
    batch = {"x": rand((2, 4), "f32", RNG)}
    out = f(params, batch)
    h = batch["x"] * params["w"][0] + params["w"][1]
    assert set(out) == {"h", "pair", "list"}
    assert_close(out["h"], h)
    assert isinstance(out["pair"], Pair) and out["pair"].b is None
    assert_close(out["pair"].a, h * 2)
    assert_close(out["list"][0], batch["x"])
    assert out["list"][1] == 3.0


def test_dict_key_order_does_not_recompile():
    @st.compile
    def f(d):
        return d["a"] - d["b"]

    a, b = rand((3,), "f32", RNG), rand((3,), "f32", RNG)
    assert_close(f({"a": a, "b": b}), a - b)
    assert_close(f({"b": b, "a": a}), a - b)
    assert f.cache_info() == st.CacheInfo(hits=1, misses=1, size=1)


def test_pytree_structure_change_recompiles():
    @st.compile
    def f(xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out

    xs = [rand((2,), "f32", RNG) for _ in range(3)]
    assert_close(f(xs[:2]), xs[0] + xs[1])
    assert_close(f(xs), xs[0] + xs[1] + xs[2])
    assert f.cache_info().misses == 2


def test_outputs_never_alias_inputs():
    @st.compile
    def f(x, y):
        return x, y * 1

    x = rand((3,), "f32", RNG)
    out, _ = f(x, x)
    assert out is not x and not np.shares_memory(out, x)
    assert_close(out, x)


def test_nested_compiled_functions_inline():
    @st.compile
    def inner(x):
        return st.exp(x)

    @st.compile
    def outer(x):
        return inner(x) + 1

    x = rand((4,), "f32", RNG)
    assert_close(outer(x), np.exp(x) + 1, rtol=4e-6)
    assert "spiral.exp" in outer.lower(x).as_text()
    assert inner.cache_info().misses == 0  # traced into outer, not compiled separately


def test_argument_names_become_ssa_names():
    @st.compile
    def f(x, params):
        return x * params["scale"]

    text = f.lower(rand((2,), "f32", RNG), {"scale": rand((2,), "f32", RNG)}).as_text()
    assert "func.func @f(%x: tensor<2xf32>, %params_scale: tensor<2xf32>)" in text


def test_lowered_debuginfo_points_at_user_lines():
    @st.compile
    def f(x):
        return st.exp(x)  # LOC-MARK

    text = f.lower(rand((2,), "f32", RNG)).as_text(debuginfo=True)
    assert f'{HERE}":{_line_of("LOC-MARK")}:0)' in text


# --- tracing errors -------------------------------------------------------------------------------
def test_branching_on_traced_value():
    @st.compile
    def f(x):
        if x.sum() > 0:  # BRANCH-MARK
            return x
        return -x

    _expect_trace_error(f, (rand((3,), "f32", RNG),), "BRANCH-MARK", "bool()", "st.where")


def test_concrete_value_conversions():
    x = rand((3,), "f32", RNG)

    @st.compile
    def f1(x):
        return float(x[0])  # FLOAT-MARK

    @st.compile
    def f2(x):
        return x.sum().item()  # ITEM-MARK

    @st.compile
    def f3(x):
        return np.asarray(x)  # ASARRAY-MARK

    @st.compile
    def f4(x):
        return int(x.max())  # INT-MARK

    _expect_trace_error(f1, (x,), "FLOAT-MARK", "float()")
    _expect_trace_error(f2, (x,), "ITEM-MARK", ".item()")
    _expect_trace_error(f3, (x,), "ASARRAY-MARK", "numpy array")
    _expect_trace_error(f4, (x,), "INT-MARK", "int()")


def test_unsupported_argument_type():
    @st.compile
    def f(x):
        return x

    with pytest.raises(st.TraceError) as info:
        f("hello")  # ARG-MARK
    assert f"{HERE}:{_line_of('ARG-MARK')}:" in str(info.value)
    assert "unsupported argument type str" in str(info.value)
    with pytest.raises(st.TraceError, match="unsupported dtype complex128"):
        f(np.ones(2, np.complex128))


def test_shape_error_points_at_user_line():
    @st.compile
    def f(x, y):
        return x + y  # SHAPE-MARK

    _expect_trace_error(f, (rand((4, 8), "f32", RNG), rand((9,), "f32", RNG)), "SHAPE-MARK",
                        "shapes (4, 8) and (9,) do not broadcast")


def test_dtype_error_points_at_user_line():
    @st.compile
    def f(x):
        return st.negative(x > 0)  # NEG-MARK

    _expect_trace_error(f, (rand((4,), "f32", RNG),), "NEG-MARK", "spiral.neg does not accept bool")


LEAKED = []


def test_leaked_tensor_from_another_trace():
    @st.compile
    def first(x):
        LEAKED.append(x)
        return x

    @st.compile
    def second(y):
        return y + LEAKED[0]  # LEAK-MARK

    first(rand((2,), "f32", RNG))
    _expect_trace_error(second, (rand((2,), "f32", RNG),), "LEAK-MARK", "another traced function")


def test_unhashable_static_argument():
    @st.compile(static_argnums=1)
    def f(x, cfg):
        return x

    with pytest.raises(st.TraceError, match="static arguments must be hashable"):
        f(rand((2,), "f32", RNG), [1, 2])


def test_bad_output_type():
    @st.compile
    def f(x):
        return x, "label"  # OUT-MARK

    with pytest.raises(st.TraceError, match="returned a str"):
        f(rand((2,), "f32", RNG))


def test_ops_outside_a_trace_on_a_leaked_tensor():
    @st.compile
    def f(x):
        LEAKED.append(x)
        return x

    f(rand((2,), "f32", RNG))
    with pytest.raises(st.TraceError, match="used outside the function being compiled"):
        _ = LEAKED[-1] * 2


def test_stc_ir_prints_the_same_module_as_lower():
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
    r = subprocess.run([sys.executable, "-m", "spiraltorch.cli", "ir", f"{example}:f", "--arg", "x=f32[4,8]",
                        "--arg", "w=f32[8,3]", "--arg", "b=f32[3]"], capture_output=True, text=True, check=True)
    import importlib.util

    spec = importlib.util.spec_from_file_location("quickstart", example)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = (np.zeros((4, 8), np.float32), np.zeros((8, 3), np.float32), np.zeros(3, np.float32))
    assert r.stdout == mod.f.lower(*args).as_text()
    assert "spiral.softmax" in r.stdout and "spiral.matmul" in r.stdout
