"""Column reductions (reducing leading axes of contiguous rows) on the cpu target against the interpreter."""

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.testing import assert_close

RNG = np.random.default_rng(9)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("shape,axis", [((256, 512), 0), ((7, 3, 1000), (0, 1)), ((300, 700), 0), ((5, 4, 6), 0),
                                        ((3, 1030), 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_column_reductions_match_the_interpreter(name, shape, axis, dtype):
    if name == "mean" and dtype == np.int32:
        pytest.skip("mean takes floats")
    x = (RNG.standard_normal(shape) * 10).astype(dtype)
    fn = getattr(st, name)
    got = st.compile(lambda x: fn(x, axis=axis))(x)
    want = st.compile(lambda x: fn(x, axis=axis), target="interp")(x)
    n = np.prod([shape[a] for a in np.atleast_1d(axis)])
    assert_close(got, want, rtol=1e-6 * np.sqrt(n), atol=1e-5 * np.sqrt(n))
