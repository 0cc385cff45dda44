import spiraltorch as st


def loss(ps, x, y):
    w1, b1, w2, b2, w3, b3 = ps
    h = st.relu(x @ w1 + b1)
    h = st.relu(h @ w2 + b2)
    return st.cross_entropy(h @ w3 + b3, y)

def step(w1, b1, w2, b2, w3, b3, x, y):
    ps = (w1, b1, w2, b2, w3, b3)
    gs = st.grad(loss)(ps, x, y)
    return tuple(p - 0.01 * g for p, g in zip(ps, gs, strict=True))
