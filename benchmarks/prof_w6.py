"""The W6 MLP training step (784-512-512-10, batch 256): first-call time, the step's median, and each of its GEMM
shapes alone through gemm_driver. Run: .venv/bin/python benchmarks/prof_w6.py"""

import time

import numpy as np

import spiraltorch as st
from spiraltorch.codegen import gemm_driver


def loss(ps, x, y):
    w1, b1, w2, b2, w3, b3 = ps
    h = st.relu(x @ w1 + b1)
    h = st.relu(h @ w2 + b2)
    return st.cross_entropy(h @ w3 + b3, y)


def step(w1, b1, w2, b2, w3, b3, x, y):
    ps = (w1, b1, w2, b2, w3, b3)
    gs = st.grad(loss)(ps, x, y)
    return tuple(p - 0.01 * g for p, g in zip(ps, gs, strict=True))


def med(fn, n=50) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3


def main() -> None:
    rng = np.random.default_rng(0)
    sizes = [784, 512, 512, 10]
    ps = []
    for i in range(3):
        ps += [(rng.standard_normal((sizes[i], sizes[i + 1])) / 28).astype(np.float32),
               np.full(sizes[i + 1], 0.01, np.float32)]
    x = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    f = st.compile(step)
    t = time.perf_counter()
    f(*ps, x, y)
    print("compile", time.perf_counter() - t)
    print("step ms", med(lambda: f(*ps, x, y)))
    shapes = [((256, 784), (784, 512)), ((256, 512), (512, 512)), ((256, 512), (512, 10)), ((256, 10), (10, 512)),
              ((512, 256), (256, 10)), ((256, 512), (512, 512)), ((512, 256), (256, 512)), ((784, 256), (256, 512))]
    total = 0.0
    for sa, sb in shapes:
        a = rng.standard_normal(sa).astype(np.float32)
        b = rng.standard_normal(sb).astype(np.float32)
        out = np.empty((sa[0], sb[1]), np.float32)
        ms = med(lambda a=a, b=b, out=out: gemm_driver.matmul(a, b, out))
        total += ms
        print(sa, sb, f"{ms:.3f} ms  {2 * sa[0] * sa[1] * sb[1] / ms / 1e6:.1f} GF/s")
    print("gemm total", total)


if __name__ == "__main__":
    main()
