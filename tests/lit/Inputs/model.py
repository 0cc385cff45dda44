import numpy as np

import spiraltorch as st


def mlp(x, w, b):
    return st.relu(x * w + b)


@st.compile(static_argnums=1)
def repeat(x, n):
    for _ in range(n):
        x = st.tanh(x)
    return x


def broken(x, y):
    return x + y


def branchy(x):
    if x.sum() > 0:
        return x
    return -x


def dup(x):
    a = st.exp(x)
    b = st.exp(x)
    return a + b


def tree(params, x):
    return {"y": x * params["w"] + params["b"], "z": np.float32(2) * x}
