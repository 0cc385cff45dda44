"""SpiralTorch quickstart: compile a function, check it against numpy, look at its IR."""

import numpy as np

import spiraltorch as st


@st.compile(target="interp")
def f(x, w, b):
    return st.relu(x * w + b)


rng = np.random.default_rng(0)
x = rng.standard_normal((4, 8)).astype(np.float32)
w = rng.standard_normal(8).astype(np.float32)
b = rng.standard_normal(8).astype(np.float32)

out = f(x, w, b)
ref = np.maximum(x * w + b, 0)
print("result:\n", out)
print("matches numpy:", np.allclose(out, ref, rtol=1e-6, atol=1e-6))
print(f.lower(x, w, b).as_text())
