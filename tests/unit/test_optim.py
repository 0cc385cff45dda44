"""st.optim: SGD / Adam / AdamW over several steps against float64 numpy references of torch's formulas (and
torch itself when installed); compiled and eager updates agree; a whole compiled training step."""

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.frontend import pytree
from spiraltorch.testing import assert_close, rand

RNG = np.random.default_rng(99)
STEPS = 5
REF_TOL = (2e-5, 2e-6)  # float32 updates vs the float64 reference, after STEPS steps


def _params():
    return {"layer": {"weight": rand((3, 4), "f32", RNG), "bias": rand((4,), "f32", RNG)},
            "scale": (rand((2,), "f32", RNG), rand((), "f32", RNG))}


def _grads(params, n=STEPS):
    return [pytree.tree_map(lambda p: rand(p.shape, "f32", RNG), params) for _ in range(n)]


def _leaves(tree):
    return pytree.flatten(tree)[0]


# --- float64 references of torch.optim's formulas --------------------------------------------------
def _sgd_ref(p, grads, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    p, buf = np.asarray(p, np.float64), None
    for g in grads:
        g = np.asarray(g, np.float64) + weight_decay * p
        if momentum:
            buf = g if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def _adam_ref(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False):
    b1, b2 = betas
    p = np.asarray(p, np.float64)
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = np.asarray(g, np.float64)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax if amsgrad else v) / np.sqrt(1 - b2**t) + eps
        p = p - lr / (1 - b1**t) * m / denom
    return p, m, v


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.1),
    dict(lr=0.05, momentum=0.5, weight_decay=0.01, nesterov=True),
]
ADAM_CASES = [
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=2e-2, weight_decay=0.1, amsgrad=True)),
]


def _steps(update, params, state, grads):
    for g in grads:
        params, state = update(params, g, state)
    return params, state


def _check_same(a, b, **tol):
    la, ta = pytree.flatten(a)
    lb, tb = pytree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        assert type(x) is np.ndarray and type(y) is np.ndarray
        assert_close(x, y, **tol)


@pytest.mark.parametrize("kw", SGD_CASES, ids=str)
def test_sgd_matches_reference_eager_and_compiled(kw):
    opt = st.optim.SGD(**kw)
    params = _params()
    grads = _grads(params)
    state = opt.init(params)
    assert (state == {}) == (not kw.get("momentum"))
    eager_p, eager_s = _steps(opt.update, params, state, grads)
    per_leaf = list(zip(*[_leaves(g) for g in grads], strict=True))
    for got, p0, gs in zip(_leaves(eager_p), _leaves(params), per_leaf, strict=True):
        assert_close(got, _sgd_ref(p0, gs, **kw).astype(np.float32), *REF_TOL)
    compiled = st.compile(opt.update, target="interp")
    _check_same(_steps(compiled, params, state, grads), (eager_p, eager_s))
    assert compiled.cache_info().misses == 1


@pytest.mark.parametrize("name,kw", ADAM_CASES, ids=str)
def test_adam_matches_reference_eager_and_compiled(name, kw):
    opt = getattr(st.optim, name)(**kw)
    params = _params()
    grads = _grads(params)
    state = opt.init(params)
    assert state["step"].shape == () and state["step"].dtype == np.float32 and type(state["step"]) is np.ndarray
    assert ("max_exp_avg_sq" in state) == kw.get("amsgrad", False)
    eager_p, eager_s = _steps(opt.update, params, state, grads)
    assert float(eager_s["step"]) == STEPS
    ref_kw = dict(kw, decoupled=name == "AdamW")
    if name == "AdamW":
        ref_kw.setdefault("weight_decay", 1e-2)
    per_leaf = list(zip(*[_leaves(g) for g in grads], strict=True))
    leaves = zip(_leaves(eager_p), _leaves(eager_s["exp_avg"]), _leaves(eager_s["exp_avg_sq"]), _leaves(params),
                 per_leaf, strict=True)
    for got_p, got_m, got_v, p0, gs in leaves:
        want_p, want_m, want_v = _adam_ref(p0, gs, **ref_kw)
        assert_close(got_p, want_p.astype(np.float32), *REF_TOL)
        assert_close(got_m, want_m.astype(np.float32), 1e-5, 1e-6)
        assert_close(got_v, want_v.astype(np.float32), 1e-5, 1e-6)
    compiled = st.compile(opt.update, target="interp")
    _check_same(_steps(compiled, params, state, grads), (eager_p, eager_s))


@pytest.mark.parametrize("opt", [st.optim.SGD(0.1, momentum=0.9, nesterov=True),
                                 st.optim.Adam(1e-2, weight_decay=0.01, amsgrad=True)], ids=repr)
def test_update_on_cpu_agrees_with_eager(opt):
    params = _params()
    grads = _grads(params, 3)
    state = opt.init(params)
    want = _steps(opt.update, params, state, grads)
    _check_same(_steps(st.compile(opt.update, target="cpu"), params, state, grads), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "AdamAmsgrad"])
def test_against_torch_when_available(name):
    torch = pytest.importorskip("torch")
    ours, theirs = {
        "SGD": (st.optim.SGD(0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
                lambda ps: torch.optim.SGD(ps, 0.1, momentum=0.9, weight_decay=0.01, nesterov=True)),
        "Adam": (st.optim.Adam(1e-2, weight_decay=0.05), lambda ps: torch.optim.Adam(ps, 1e-2, weight_decay=0.05)),
        "AdamW": (st.optim.AdamW(1e-2), lambda ps: torch.optim.AdamW(ps, 1e-2)),
        "AdamAmsgrad": (st.optim.Adam(1e-2, amsgrad=True), lambda ps: torch.optim.Adam(ps, 1e-2, amsgrad=True)),
    }[name]
    params = _params()
    grads = _grads(params)
    got, _ = _steps(ours.update, params, ours.init(params), grads)
    tparams = [torch.tensor(p, requires_grad=True) for p in _leaves(params)]
    topt = theirs(tparams)
    for g in grads:
        for tp, gl in zip(tparams, _leaves(g), strict=True):
            tp.grad = torch.from_numpy(gl.copy())
        topt.step()
    for a, tp in zip(_leaves(got), tparams, strict=True):
        assert_close(a, tp.detach().numpy(), 1e-5, 1e-6)


def test_dtypes_are_kept_and_lr_can_be_passed_in():
    params = {"w": rand((4,), "f64", RNG), "h": rand((3,), "f32", RNG)}
    grads = _grads(params, 1)[0]
    opt = st.optim.Adam(0.1)
    new_p, new_s = opt.update(params, grads, opt.init(params))
    assert new_p["w"].dtype == np.float64 and new_p["h"].dtype == np.float32
    assert new_s["exp_avg"]["w"].dtype == np.float64 and new_s["step"].dtype == np.float32
    want = _adam_ref(params["w"], [grads["w"]], 0.1)[0]
    assert_close(new_p["w"], want, 1e-12, 1e-13)  # a float64 parameter is updated in float64

    # a learning rate given per call (e.g. a schedule), as a Python float or as an argument of the compiled step
    sgd = st.optim.SGD(1.0)
    want_p, _ = st.optim.SGD(0.25).update(params, grads, {})
    eager_p, _ = sgd.update(params, grads, {}, lr=0.25)
    compiled_p, _ = st.compile(lambda p, g, lr: sgd.update(p, g, {}, lr=lr), target="interp")(params, grads, 0.25)
    _check_same(eager_p, want_p)
    _check_same(compiled_p, want_p)
    adam_lr = st.compile(lambda p, g, s, lr: opt.update(p, g, s, lr=lr), target="interp")
    _check_same(adam_lr(params, grads, opt.init(params), np.float32(0.1)), (new_p, new_s), rtol=1e-6, atol=1e-7)


def test_init_inside_a_trace():
    opt = st.optim.Adam()

    @st.compile(target="interp")
    def first_state(params):
        return opt.init(params)

    params = _params()
    state = first_state(params)
    assert state["step"].shape == () and state["step"].dtype == np.float32
    _check_same(state, opt.init(params))


# --- errors ----------------------------------------------------------------------------------------
def test_structure_and_dtype_errors_name_the_user_line():
    opt = st.optim.SGD(0.1, momentum=0.9)
    params = {"a": rand((2,), "f32", RNG), "b": rand((3,), "f32", RNG)}
    state = opt.init(params)

    def bad_grads(p, g, s):
        return opt.update(p, g, s)

    with pytest.raises(st.TraceError) as info:
        st.compile(bad_grads, target="interp")(params, {"a": params["a"]}, state)
    text = str(info.value)
    assert f"test_optim.py:{bad_grads.__code__.co_firstlineno + 1}:" in text, text
    assert "SGD.update: grads have the structure {'a': *} but the params have {'a': *, 'b': *}" in text, text

    with pytest.raises(st.TraceError, match=r"test_optim.py:\d+: SGD: parameter 'i' is dtype int64; only "):
        opt.init({"i": np.arange(3)})
    with pytest.raises(st.UsageError, match="SGD.update: the state has no 'momentum_buffer'"):
        opt.update(params, params, {})
    with pytest.raises(st.UsageError, match=r"Adam.update: the state must be the dict made by opt.init"):
        st.optim.Adam().update(params, params, state)


def test_hyperparameter_errors():
    with pytest.raises(st.UsageError, match="SGD: lr must be >= 0.0, got -0.1"):
        st.optim.SGD(-0.1)
    with pytest.raises(st.UsageError, match="SGD: nesterov=True needs a momentum > 0"):
        st.optim.SGD(0.1, nesterov=True)
    with pytest.raises(st.UsageError, match="Adam: beta1 must be >= 0.0 and < 1.0, got 1.0"):
        st.optim.Adam(betas=(1.0, 0.9))
    with pytest.raises(st.UsageError, match="AdamW: betas must be a pair"):
        st.optim.AdamW(betas=0.9)
    with pytest.raises(st.UsageError, match="Adam: eps must be a number"):
        st.optim.Adam(eps="small")
    assert repr(st.optim.SGD(0.1)) == "SGD(lr=0.1, momentum=0.0, weight_decay=0.0, nesterov=False)"


# --- whole training steps --------------------------------------------------------------------------
def test_manual_gradient_training_step_learns():
    """forward + loss + (hand-written) gradients + optimizer update in ONE compiled function, run by Trainer."""
    lin = st.nn.Linear(3, 2)
    mse = st.nn.MSELoss()
    opt = st.optim.SGD(0.1, momentum=0.5)
    w_true, b_true = rand((3, 2), "f32", RNG), rand((2,), "f32", RNG)
    x = rand((64, 3), "f32", RNG)
    y = x @ w_true + b_true

    @st.compile(target="cpu")
    def step(state, x, y):
        params, opt_state = state
        pred = lin(params, x)
        loss = mse(pred, y)
        dpred = 2.0 * (pred - y) / pred.size
        grads = {"weight": st.matmul(x.T, dpred), "bias": st.sum(dpred, axis=0)}
        params, opt_state = opt.update(params, grads, opt_state)
        return (params, opt_state), loss

    params = lin.init(seed=0)
    trainer = st.nn.Trainer(step, (params, opt.init(params)))
    losses = trainer.fit(st.nn.batches(x, y, 16, seed=0), epochs=15, progress=False)
    assert losses[-1] < 1e-6 * losses[0], losses
    assert step.cache_info().misses == 1
    learned = trainer.state[0]
    assert_close(learned["weight"], w_true, 1e-3, 1e-3)
    assert_close(learned["bias"], b_true, 1e-3, 1e-3)


@pytest.mark.skipif(not hasattr(st, "value_and_grad"), reason="st.value_and_grad is not available")
def test_value_and_grad_training_step_matches_torch():
    torch = pytest.importorskip("torch")
    model = st.nn.Sequential(st.nn.Conv1d(2, 3, 3, padding=1), st.nn.Tanh(), st.nn.Flatten(), st.nn.Linear(18, 4))
    loss_fn = st.nn.CrossEntropyLoss()
    opt = st.optim.Adam(1e-2)

    @st.compile(target="cpu")
    def step(state, x, y):
        params, opt_state = state
        loss, grads = st.value_and_grad(lambda p: loss_fn(model(p, x), y))(params)
        params, opt_state = opt.update(params, grads, opt_state)
        return (params, opt_state), loss

    params = model.init(seed=0)
    x, y = rand((5, 2, 6), "f32", RNG), RNG.integers(0, 4, size=5)
    state = (params, opt.init(params))
    ours = []
    for _ in range(3):
        state, loss = step(state, x, y)
        ours.append(float(loss))

    tmodel = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),
                                 torch.nn.Linear(18, 4))
    with torch.no_grad():
        tmodel[0].weight.copy_(torch.from_numpy(params["0"]["weight"]))
        tmodel[0].bias.copy_(torch.from_numpy(params["0"]["bias"]))
        tmodel[3].weight.copy_(torch.from_numpy(params["3"]["weight"].T.copy()))  # ours is (in, out)
        tmodel[3].bias.copy_(torch.from_numpy(params["3"]["bias"]))
    topt = torch.optim.Adam(tmodel.parameters(), 1e-2)
    theirs = []
    for _ in range(3):
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
        tloss.backward()
        topt.step()
        theirs.append(tloss.item())
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert_close(state[0]["3"]["weight"], tmodel[3].weight.detach().numpy().T, 1e-4, 1e-5)
    assert_close(state[0]["0"]["weight"], tmodel[0].weight.detach().numpy(), 1e-4, 1e-5)
