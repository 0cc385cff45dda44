"""Large outputs reuse pooled memory only once the caller has dropped every array made from it."""

import numpy as np

import spiraltorch as st
from runtime.outputs import POOL_MIN_BYTES, OutputPool


def test_a_buffer_is_reused_only_after_its_arrays_are_gone():
    pool = OutputPool()
    shape = (POOL_MIN_BYTES // 4,)
    a = pool.empty(shape, np.float32)
    a[:] = 1.0
    b = pool.empty(shape, np.float32)
    assert not np.shares_memory(a, b)  # a is alive: fresh memory
    view = a[10:20]
    del a
    c = pool.empty(shape, np.float32)
    assert not np.shares_memory(c, view)  # a view keeps the buffer
    del view, c
    d = pool.empty(shape, np.float32)
    e = pool.empty(shape, np.float32)
    assert not np.shares_memory(d, e)
    assert d.dtype == np.float32 and d.shape == shape


def test_small_outputs_are_plain_arrays():
    assert OutputPool().empty((4,), np.float64).base is None


def test_compiled_results_stay_valid_while_held():
    f = st.compile(lambda x: x * 2.0)
    x = np.arange(POOL_MIN_BYTES // 4 * 2, dtype=np.float32)
    kept = [f(x + i) for i in range(6)]  # more results alive than buffers per size in the pool
    for i, r in enumerate(kept):
        np.testing.assert_array_equal(r, (x + i) * 2.0)
