import spiraltorch as st


def loss(w, x):
    return st.mean(st.tanh(x @ w) ** 2)


grad_loss = st.grad(loss)
