"""st.nn: modules traced on the interpreter and the CPU backend against float64 numpy references, init,
Sequential's parameter pytree, losses, batches(), train_epoch and Trainer."""

import math

import numpy as np
import pytest

import spiraltorch as st
from spiraltorch.frontend import pytree
from spiraltorch.testing import assert_close, rand

nn = st.nn
RNG = np.random.default_rng(2024)
F32 = (1e-5, 1e-5)  # small reductions (matmul over <= 32 terms of |x| <= 2) in float32


def _run(fn, *args, target="interp"):
    return st.compile(fn, target=target)(*args)


def _both(fn, *args):
    """fn compiled for the interpreter and for the CPU backend: (interp result, cpu result)."""
    return _run(fn, *args), _run(fn, *args, target="cpu")


def _f64(tree):
    return pytree.tree_map(lambda a: np.asarray(a, np.float64), tree)


# --- Linear ----------------------------------------------------------------------------------------
def test_linear_init_is_deterministic_with_torch_bounds():
    lin = nn.Linear(16, 24)
    p = lin.init(seed=3)
    assert sorted(p) == ["bias", "weight"]
    assert p["weight"].shape == (16, 24) and p["bias"].shape == (24,)
    assert p["weight"].dtype == np.float32 and p["bias"].dtype == np.float32
    bound = 1 / math.sqrt(16)
    for a in p.values():
        assert np.all(np.abs(a) <= bound) and np.abs(a).max() > 0.9 * bound
    again = lin.init(seed=3)
    assert all(np.array_equal(p[k], again[k]) for k in p)
    other = lin.init(seed=4)
    assert not np.array_equal(p["weight"], other["weight"])
    # drawn from numpy's default_rng(seed): weight first, then bias
    rng = np.random.default_rng(3)
    assert np.array_equal(p["weight"], rng.uniform(-bound, bound, (16, 24)).astype(np.float32))
    assert np.array_equal(p["bias"], rng.uniform(-bound, bound, (24,)).astype(np.float32))
    assert lin.init(np.random.default_rng(3))["weight"].tobytes() == p["weight"].tobytes()
    assert sorted(nn.Linear(3, 2, bias=False).init()) == ["weight"]


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,), (1, 4)], ids=str)
def test_linear_forward(shape):
    lin = nn.Linear(4, 3)
    p = lin.init(seed=1)
    x = rand(shape, "f32", RNG)
    want = (_f64(x) @ _f64(p["weight"]) + _f64(p["bias"])).astype(np.float32)
    assert_close(_run(lin, p, x), want, *F32)
    assert_close(lin(p, x), want, *F32)  # eager, through the interpreter


def test_linear_on_cpu_and_without_bias():
    lin = nn.Linear(6, 5, bias=False)
    p = lin.init(seed=2)
    x = rand((7, 6), "f32", RNG)
    want = (_f64(x) @ _f64(p["weight"])).astype(np.float32)
    for got in _both(lin, p, x):
        assert_close(got, want, *F32)


def _trace_error(fn, args, line, *messages):
    with pytest.raises(st.TraceError) as info:
        _run(fn, *args)
    text = str(info.value)
    assert f"test_nn.py:{line}:" in text, text
    for m in messages:
        assert m in text, text
    return text


def test_linear_wrong_input_width_names_the_user_line():
    lin = nn.Linear(4, 3)
    p = lin.init()

    def forward(params, x):
        return lin(params, x)

    _trace_error(forward, (p, rand((5, 6), "f32", RNG)), forward.__code__.co_firstlineno + 1,
                 "Linear(in_features=4, out_features=3, bias=True) expects an input whose last dimension is 4, "
                 "got shape (5, 6)")

    with pytest.raises(st.TraceError, match=r"test_nn.py:\d+: Linear.* got shape \(5, 6\)"):
        lin(p, rand((5, 6), "f32", RNG))  # eagerly too


def test_linear_wrong_params_are_reported():
    lin = nn.Linear(4, 3)

    def forward(params, x):
        return lin(params, x)

    x = rand((2, 4), "f32", RNG)
    bad = {"weight": rand((3, 4), "f32", RNG), "bias": rand((3,), "f32", RNG)}
    _trace_error(forward, (bad, x), forward.__code__.co_firstlineno + 1,
                 "params['weight'] has shape (3, 4), expected (4, 3)")
    _trace_error(forward, ({"w": bad["weight"]}, x), forward.__code__.co_firstlineno + 1,
                 "the parameters have no 'weight' entry (got ['w'])")


# --- Conv1d ----------------------------------------------------------------------------------------
def _conv1d_ref(x, w, b, stride, padding):
    """torch.nn.functional.conv1d semantics, by direct loops in float64."""
    x, w = _f64(x), _f64(w)
    n, c, length = x.shape
    o, _, k = w.shape
    xp = np.zeros((n, c, length + 2 * padding))
    xp[:, :, padding : padding + length] = x
    l_out = (length + 2 * padding - k) // stride + 1
    out = np.zeros((n, o, l_out))
    for i in range(n):
        for j in range(o):
            for t in range(l_out):
                acc = 0.0 if b is None else float(b[j])
                for ch in range(c):
                    for kk in range(k):
                        acc += w[j, ch, kk] * xp[i, ch, t * stride + kk]
                out[i, j, t] = acc
    return out


CONV_CASES = [  # (N, C_in, C_out, L, K, stride, padding)
    (2, 3, 4, 10, 3, 1, 0),
    (2, 3, 4, 10, 3, 2, 1),
    (1, 1, 2, 7, 1, 1, 0),
    (3, 2, 5, 9, 4, 3, 2),
    (2, 4, 3, 8, 5, 1, 2),
    (1, 2, 2, 5, 5, 1, 0),  # a single output position
    (2, 3, 1, 11, 2, 4, 3),  # padding larger than needed; stride skips the tail
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv1d_matches_a_direct_loop(case):
    n, c_in, c_out, length, k, s, pad = case
    conv = nn.Conv1d(c_in, c_out, k, stride=s, padding=pad)
    p = conv.init(seed=5)
    x = rand((n, c_in, length), "f32", RNG)
    want = _conv1d_ref(x, p["weight"], p["bias"], s, pad).astype(np.float32)
    assert want.shape == (n, c_out, conv.output_length(length))
    for got in _both(conv, p, x):
        assert_close(got, want, *F32)


def test_conv1d_on_cpu_eager_unbatched_and_without_bias():
    conv = nn.Conv1d(3, 4, 3, stride=2, padding=1)
    p = conv.init(seed=6)
    x = rand((2, 3, 9), "f32", RNG)
    want = _conv1d_ref(x, p["weight"], p["bias"], 2, 1).astype(np.float32)
    for got in (*_both(conv, p, x), conv(p, x)):
        assert_close(got, want, *F32)
    assert_close(_run(conv, p, x[0]), want[0], *F32)  # (C_in, L) -> (C_out, L_out)

    nobias = nn.Conv1d(2, 3, 2, bias=False)
    q = nobias.init(seed=7)
    assert sorted(q) == ["weight"]
    x = rand((1, 2, 6), "f32", RNG)
    assert_close(_run(nobias, q, x), _conv1d_ref(x, q["weight"], None, 1, 0).astype(np.float32), *F32)


def test_conv1d_against_torch_when_available():
    torch = pytest.importorskip("torch")
    conv = nn.Conv1d(3, 5, 4, stride=2, padding=3)
    p = conv.init(seed=8)
    x = rand((2, 3, 13), "f32", RNG)
    want = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(p["weight"]),
                                      torch.from_numpy(p["bias"]), stride=2, padding=3).numpy()
    assert_close(_run(conv, p, x), want, *F32)


def test_conv1d_init_and_errors():
    conv = nn.Conv1d(3, 6, 5)
    p = conv.init(seed=1)
    assert p["weight"].shape == (6, 3, 5) and p["bias"].shape == (6,)
    bound = 1 / math.sqrt(3 * 5)
    assert all(np.abs(a).max() <= bound and a.dtype == np.float32 for a in p.values())
    assert np.abs(p["weight"]).max() > 0.9 * bound

    def forward(params, x):
        return conv(params, x)

    line = forward.__code__.co_firstlineno + 1
    _trace_error(forward, (p, rand((2, 4, 9), "f32", RNG)), line, "expects an input of shape (N, 3, L) or (3, L), "
                 "got shape (2, 4, 9)")
    _trace_error(forward, (p, rand((2, 3, 4), "f32", RNG)), line, "input length 4 (padded to 4) is shorter than the "
                 "kernel (5)")
    with pytest.raises(st.UsageError, match="Conv1d: stride must be >= 1, got 0"):
        nn.Conv1d(1, 1, 1, stride=0)
    with pytest.raises(st.UsageError, match="Conv1d: padding must be >= 0"):
        nn.Conv1d(1, 1, 1, padding=-1)


# --- parameter-free layers -------------------------------------------------------------------------
def _erf(x):
    return np.vectorize(math.erf)(x)


def test_activations_on_interp_and_cpu():
    x = rand((3, 5), "f32", RNG, -3, 3)
    layers = [nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.GELU(), nn.GELU("tanh"), nn.Softmax(), nn.LogSoftmax(axis=0)]
    for layer in layers:
        assert layer.init() == {}

    def all_of_them(x):
        return [layer({}, x) for layer in layers]

    x64 = _f64(x)
    e = np.exp(x64 - x64.max(-1, keepdims=True))
    lse0 = np.log(np.exp(x64 - x64.max(0)).sum(0)) + x64.max(0)
    want = [np.maximum(x64, 0), np.tanh(x64), 1 / (1 + np.exp(-x64)), 0.5 * x64 * (1 + _erf(x64 / math.sqrt(2))),
            0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64**3))), e / e.sum(-1, keepdims=True),
            x64 - lse0]
    for got in _both(all_of_them, x):
        for layer, g, w in zip(layers, got, want, strict=True):
            assert_close(g, w.astype(np.float32), 1e-5, 2e-6, err_msg=repr(layer))
    assert_close(nn.Tanh()({}, x), np.tanh(x64).astype(np.float32), 1e-5, 2e-6)  # eager
    with pytest.raises(st.UsageError):
        nn.GELU("exact")


def test_flatten_and_identity():
    x = rand((2, 3, 4, 5), "f32", RNG)
    assert _run(nn.Flatten(), {}, x).shape == (2, 60)
    assert_close(_run(nn.Flatten(0, 1), {}, x), x.reshape(6, 4, 5))
    assert_close(_run(nn.Flatten(1, 2), {}, x), x.reshape(2, 12, 5))
    assert_close(_run(nn.Flatten(-2), {}, x), x.reshape(2, 3, 20))
    assert_close(_run(nn.Identity(), {}, x), x)

    def bad(x):
        return nn.Flatten(2, 1)({}, x)

    _trace_error(bad, (x,), bad.__code__.co_firstlineno + 1, "start_dim comes after end_dim")


# --- Sequential ------------------------------------------------------------------------------------
def test_sequential_param_structure_and_init():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
    p = model.init(seed=11)
    assert sorted(p, key=int) == ["0", "1", "2", "3", "4"]
    assert p["1"] == {} and p["3"] == {}
    assert {k: sorted(v) for k, v in p.items() if v} == {k: ["bias", "weight"] for k in ("0", "2", "4")}
    assert p["2"]["weight"].shape == (8, 8) and p["4"]["bias"].shape == (2,)
    # one generator through the layers in order: layer 0 equals Linear(4, 8).init(11)
    first = nn.Linear(4, 8).init(seed=11)
    assert np.array_equal(p["0"]["weight"], first["weight"]) and np.array_equal(p["0"]["bias"], first["bias"])
    assert not np.array_equal(p["2"]["weight"], nn.Linear(8, 8).init(seed=11)["weight"])
    again = model.init(seed=11)
    assert all(np.array_equal(a, b) for a, b in zip(pytree.flatten(p)[0], pytree.flatten(again)[0], strict=True))
    assert pytree.flatten(p)[1] == pytree.flatten(again)[1]
    assert len(model) == 5 and isinstance(model[2], nn.Linear) and len(model[:2]) == 2
    assert "(4): Linear(in_features=8, out_features=2, bias=True)" in repr(model)


def test_sequential_forward_matches_composition():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), st.tanh)  # a plain callable layer
    p = model.init(seed=12)
    assert p["3"] == {}
    x = rand((6, 4), "f32", RNG)
    h = np.maximum(_f64(x) @ _f64(p["0"]["weight"]) + _f64(p["0"]["bias"]), 0)
    want = np.tanh(h @ _f64(p["2"]["weight"]) + _f64(p["2"]["bias"])).astype(np.float32)
    for got in (*_both(model, p, x), model(p, x)):
        assert_close(got, want, *F32)


def test_sequential_errors_name_the_layer():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(7, 2))
    p = model.init()

    def forward(params, x):
        return model(params, x)

    line = forward.__code__.co_firstlineno + 1
    x = rand((5, 4), "f32", RNG)
    _trace_error(forward, (p, x), line, "Linear(in_features=7, out_features=2, bias=True) expects an input whose "
                 "last dimension is 7, got shape (5, 8) (Sequential layer 2)")
    _trace_error(forward, ({"0": p["0"]}, x), line, "Sequential of 3 layers expects parameters keyed ['0', '1', '2']")
    with pytest.raises(st.UsageError, match="layer 1 is a int"):
        nn.Sequential(nn.ReLU(), 3)


# --- losses ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_numpy(reduction):
    pred, target = rand((4, 5), "f32", RNG), rand((4, 5), "f32", RNG)
    logits, labels = rand((6, 7), "f32", RNG, -4, 4), RNG.integers(0, 7, size=6)
    red = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    lse = np.log(np.exp(_f64(logits)).sum(-1))
    log_probs = _f64(logits) - lse[:, None]
    picked = log_probs[np.arange(6), labels]
    mse, ce, nll = nn.MSELoss(reduction), nn.CrossEntropyLoss(reduction), nn.NLLLoss(reduction)

    def losses(pred, target, logits, labels):
        return mse(pred, target), ce(logits, labels), nll(st.log_softmax(logits), labels)

    want = [red((_f64(pred) - _f64(target)) ** 2), red(-picked), red(-picked)]
    for got in _both(losses, pred, target, logits, labels):
        for g, w in zip(got, want, strict=True):
            assert_close(g, np.asarray(w, np.float32), 1e-5, 1e-5)
    assert_close(mse(pred, target), np.asarray(want[0], np.float32), 1e-5, 1e-5)  # eager


def test_loss_errors():
    with pytest.raises(st.UsageError, match='MSELoss: reduction must be "mean", "sum" or "none", got \'avg\''):
        nn.MSELoss("avg")
    mse = nn.MSELoss()

    def forward(a, b):
        return mse(a, b)

    _trace_error(forward, (rand((4, 3), "f32", RNG), rand((4,), "f32", RNG)), forward.__code__.co_firstlineno + 1,
                 "MSELoss: input shape (4, 3) and target shape (4,) differ")


# --- batches ---------------------------------------------------------------------------------------
def test_batches_shuffle_and_drop_last():
    x = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(10, dtype=np.int64)
    b = nn.batches(x, y, 4, shuffle=True, seed=1, drop_last=False)
    assert len(b) == 3
    epoch1 = list(b)
    assert [len(bx) for bx, _ in epoch1] == [4, 4, 2]
    seen = np.concatenate([by for _, by in epoch1])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for bx, by in epoch1:
        assert type(bx) is np.ndarray and bx.dtype == np.float32 and by.dtype == np.int64
        assert bx.flags.c_contiguous and np.array_equal(bx[:, 0], by.astype(np.float32))
    epoch2 = np.concatenate([by for _, by in b])  # a new permutation each iteration
    assert sorted(epoch2.tolist()) == list(range(10)) and epoch2.tolist() != seen.tolist()
    same_seed = nn.batches(x, y, 4, shuffle=True, seed=1, drop_last=False)
    assert np.array_equal(np.concatenate([by for _, by in same_seed]), seen)

    dropped = nn.batches(x, y, 4, seed=1)  # drop_last=True by default
    assert len(dropped) == 2 and [len(by) for _, by in dropped] == [4, 4]
    ordered = list(nn.batches(x, y, 3, shuffle=False, drop_last=False))
    assert [by.tolist() for _, by in ordered] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    only_x = list(nn.batches(x, None, 5, shuffle=False))
    assert len(only_x) == 2 and len(only_x[0]) == 1 and np.array_equal(only_x[1][0], x[5:])
    assert len(nn.batches(x, y, 11)) == 0


def test_batches_errors():
    x = np.zeros((10, 2), np.float32)
    with pytest.raises(st.UsageError, match="x has 10 samples but y has 9"):
        nn.batches(x, np.zeros(9), 2)
    with pytest.raises(st.UsageError, match="batch_size must be an int >= 1"):
        nn.batches(x, None, 0)


# --- train_epoch / Trainer -------------------------------------------------------------------------
@st.compile(target="interp")
def _count_and_mean(count, x, y):
    """A fake training step: the state counts steps, the loss is the batch mean of x."""
    return count + 1, st.mean(x)


def test_train_epoch_with_a_fake_step():
    x = rand((12, 3), "f32", RNG)
    y = np.arange(12)
    data = nn.batches(x, y, 4, shuffle=False)
    count, loss = nn.train_epoch(_count_and_mean, np.zeros((), np.int64), data, progress=False)
    assert int(count) == 3 and type(loss) is float
    assert loss == pytest.approx(np.mean([x[i : i + 4].mean(dtype=np.float32) for i in (0, 4, 8)]), rel=1e-6)
    # a plain Python step and a list of batches; progress bar on (written to stderr)
    state, loss = nn.train_epoch(lambda s, a: (s + [len(a)], float(a.sum())), [], [(np.ones(2),), (np.ones(3),)],
                                 desc="fake")
    assert state == [2, 3] and loss == 2.5


def test_train_epoch_errors():
    with pytest.raises(st.UsageError, match="batches yielded no batch"):
        nn.train_epoch(_count_and_mean, np.zeros((), np.int64), [], progress=False)
    with pytest.raises(st.UsageError, match=r"must return \(state, loss\)"):
        nn.train_epoch(lambda s, x: s, 0, [(np.ones(2),)], progress=False)
    with pytest.raises(st.UsageError, match="loss must be a scalar"):
        nn.train_epoch(lambda s, x: (s, x), 0, [(np.ones(2),)], progress=False)


def test_trainer_fit_records_losses_and_speed():
    x = rand((8, 2), "f32", RNG)
    data = nn.batches(x, np.arange(8), 2, shuffle=True, seed=0)
    trainer = nn.Trainer(_count_and_mean, np.zeros((), np.int64))
    losses = trainer.fit(data, epochs=2, progress=False)
    assert len(losses) == 2 and int(trainer.state) == 8
    # every epoch sees every sample once, in batches of 2: the mean of the batch means is x's mean
    assert losses == pytest.approx([float(x.mean(dtype=np.float64))] * 2, rel=1e-5)
    assert [h.epoch for h in trainer.history] == [0, 1] and all(h.steps == 4 for h in trainer.history)
    assert trainer.steps_per_s > 0 and trainer.history[-1].steps_per_s == trainer.steps_per_s

    epochs_seen = []

    def per_epoch(epoch):
        epochs_seen.append(epoch)
        return nn.batches(x, np.arange(8), 4, seed=epoch)

    assert len(trainer.fit(per_epoch, 2, progress=False)) == 2
    assert epochs_seen == [2, 3] and int(trainer.state) == 12 and trainer.epoch == 4
    assert trainer.fit(lambda: [(x, np.arange(8))], 1, progress=False)[0] == pytest.approx(x.mean(), rel=1e-5)
    with pytest.raises(st.UsageError, match="one-shot iterator"):
        trainer.fit(iter([(x, x)]), 2, progress=False)


# --- a whole model, eagerly and compiled -----------------------------------------------------------
def test_conv_mlp_model_eager_interp_cpu_agree():
    model = nn.Sequential(nn.Conv1d(2, 4, 3, stride=2, padding=1), nn.GELU(), nn.Flatten(), nn.Linear(4 * 5, 3))
    p = model.init(seed=0)
    x = rand((3, 2, 10), "f32", RNG)
    eager = model(p, x)
    interp, cpu = _both(model, p, x)
    assert eager.shape == (3, 3)
    assert_close(interp, eager)
    assert_close(cpu, eager, *F32)
