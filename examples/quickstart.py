"""SpiralTorch quickstart: compile a small model function, check it against numpy, look at its IR.

Run: bash scripts/demo.sh     (or .venv/bin/python examples/quickstart.py)
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

import spiraltorch as st


@st.compile(target="interp")  # the reference interpreter; target="cpu" runs native code
def f(x, w, b):
    return st.softmax(st.relu(x @ w + b), axis=-1)


def reference(x, w, b):
    h = np.maximum(x @ w + b, 0)
    e = np.exp(h - h.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8)).astype(np.float32)
    w = rng.standard_normal((8, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)

    out = f(x, w, b)
    print("f(x, w, b) =\n", out)
    print("matches numpy:", np.allclose(out, reference(x, w, b), rtol=1e-5, atol=1e-6))
    f(x, w, b)
    print("cache:", f.cache_info(), "(the second call reused the compiled function)")
    print("\nSpiralIR of f (the same as `stc ir examples/quickstart.py:f --arg x=f32[4,8] --arg w=f32[8,3] "
          "--arg b=f32[3]`):")
    print(f.lower(x, w, b).as_text())

    # The same function compiled to native code (the default target), then shipped as an artifact that the
    # minimal runtime loads without the compiler.
    native = st.compile(f.fn)
    print("cpu target matches the interpreter:", np.allclose(native(x, w, b), out, rtol=1e-5, atol=1e-6))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.stpack")
        subprocess.run([sys.executable, "-m", "spiraltorch.cli", "build", f"{__file__}:f", "--arg", "x=f32[4,8]",
                        "--arg", "w=f32[8,3]", "--arg", "b=f32[3]", "-o", path], check=True)
        import runtime

        model = runtime.load(path)
        print("artifact run through the minimal runtime matches:", np.allclose(model(x, w, b), out, atol=1e-6))


if __name__ == "__main__":
    main()
