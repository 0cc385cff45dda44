"""The digits training demo (examples/train_digits.py): it trains to >= 95% test accuracy, and its compiled
training step computes the right gradients (against a float64 numpy backward derived by hand)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from spiraltorch.testing import assert_close

pytest.importorskip("sklearn")

_PATH = Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"


def _load_demo():
    spec = importlib.util.spec_from_file_location("train_digits", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("train_digits", module)  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


# --- the demo run -----------------------------------------------------------------------------------
def test_default_run_reaches_95_percent(capsys):
    # The default configuration (10 epochs, batch 32, seed 0, cpu target), as `bash scripts/demo.sh` runs it.
    res = demo.main(["--no-progress"])
    out = capsys.readouterr().out
    assert res.epochs == 10 and res.target == "cpu"
    assert res.test_accuracy >= 0.95, out
    assert res.passed and res.exit_code == 0
    assert res.train_accuracy >= 0.98
    # the shipped predict, reloaded with runtime.load, classifies exactly as the compiled one
    assert res.artifact_accuracy == res.test_accuracy
    # the compiled step's loss goes down: from ~ln(10) at the initial weights, every epoch lower than the last
    assert abs(res.first_loss - np.log(10)) < 0.3
    losses = res.epoch_losses
    assert len(losses) == 10 and all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses
    assert losses[0] < res.first_loss and losses[-1] < 0.1 * losses[0], losses
    assert res.steps == 10 * (1437 // 32) and res.steps_per_s > 0 and res.compile_s > 0
    lines = out.strip().splitlines()
    assert lines[-1] == f"test accuracy {res.test_accuracy:.1%} (>= 95%: yes)"
    assert sum(line.startswith("epoch ") for line in lines) == 10
    assert "steps/s" in out and "compiled step(" in out


def test_interp_target_trains_identically(capsys):
    # A shortened run (2 epochs: far from 95%, so only the numbers are checked, not the threshold) on the
    # reference interpreter gives the cpu target's losses: the same step, two executions.
    args = ["--no-progress", "--no-export", "--epochs", "2", "--seed", "3"]
    cpu = demo.main(args)
    interp = demo.main([*args, "--target", "interp"])
    capsys.readouterr()
    assert interp.target == "interp" and interp.artifact_accuracy is None
    assert_close(np.array(interp.epoch_losses), np.array(cpu.epoch_losses), rtol=1e-4, atol=0)
    assert interp.epoch_losses[1] < interp.epoch_losses[0] < interp.first_loss
    assert abs(interp.test_accuracy - cpu.test_accuracy) <= 1 / 360  # at most one borderline image differs


def test_low_accuracy_exits_1(capsys):
    # One epoch at batch 1437 is a single Adam step: nowhere near 95%, so the script must fail.
    res = demo.main(["--no-progress", "--no-export", "--epochs", "1", "--batch-size", "1437"])
    out = capsys.readouterr().out
    assert res.test_accuracy < 0.95 and res.exit_code == 1
    assert out.strip().splitlines()[-1].endswith("(>= 95%: NO)")


# --- the compiled step's gradients against a hand-derived float64 backward -------------------------------
def _numpy_loss_and_grads(params, x, y):
    """Forward and backward of Linear-ReLU-Linear-ReLU-Linear + mean softmax cross-entropy, in float64."""
    p = {k: {n: v.astype(np.float64) for n, v in layer.items()} for k, layer in params.items()}
    x = x.astype(np.float64)
    a1 = x @ p["0"]["weight"] + p["0"]["bias"]
    h1 = np.maximum(a1, 0)
    a2 = h1 @ p["2"]["weight"] + p["2"]["bias"]
    h2 = np.maximum(a2, 0)
    z = h2 @ p["4"]["weight"] + p["4"]["bias"]
    zmax = z.max(axis=1, keepdims=True)
    lse = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
    n = len(y)
    loss = np.mean(lse - z[np.arange(n), y])
    # d loss / d z = (softmax(z) - onehot(y)) / n
    dz = np.exp(z - lse[:, None])
    dz[np.arange(n), y] -= 1.0
    dz /= n
    dh2 = dz @ p["4"]["weight"].T
    da2 = dh2 * (a2 > 0)
    dh1 = da2 @ p["2"]["weight"].T
    da1 = dh1 * (a1 > 0)
    grads = {
        "0": {"weight": x.T @ da1, "bias": da1.sum(axis=0)},
        "1": {},
        "2": {"weight": h1.T @ da2, "bias": da2.sum(axis=0)},
        "3": {},
        "4": {"weight": h2.T @ dz, "bias": dz.sum(axis=0)},
    }
    return loss, grads


def test_compiled_step_gradients_match_numpy_backward():
    x_tr, y_tr, _, _ = demo.load_data()
    rng = np.random.default_rng(7)
    idx = rng.choice(len(x_tr), size=32, replace=False)
    x, y = x_tr[idx], y_tr[idx]
    params = demo.MODEL.init(seed=5)
    opt_state = demo.OPT.init(params)
    step = demo.compile_step("cpu")
    new_params, new_state, loss = step(params, opt_state, x, y)

    ref_loss, ref_grads = _numpy_loss_and_grads(params, x, y)
    assert_close(np.asarray(loss), np.asarray(ref_loss), rtol=1e-5, atol=0, check_dtype=False)
    # Adam's first step from m = 0 stores exp_avg = (1 - beta1) * g: the compiled step's gradients, read back.
    beta1, beta2 = demo.OPT.betas
    lr, eps = demo.OPT.lr, demo.OPT.eps
    assert float(new_state["step"]) == 1.0
    for key in ("0", "2", "4"):
        for name in ("weight", "bias"):
            g_ref = ref_grads[key][name]
            scale = np.abs(g_ref).max()
            g = new_state["exp_avg"][key][name].astype(np.float64) / (1 - beta1)
            # rtol 1e-4 elementwise; atol only for entries ~1e5 times smaller than the largest (float32
            # cancellation in their sums)
            assert_close(g, g_ref, rtol=1e-4, atol=1e-6 * scale)
            v = new_state["exp_avg_sq"][key][name].astype(np.float64) / (1 - beta2)
            assert_close(v, g_ref**2, rtol=2e-4, atol=1e-6 * scale**2)
            # and the update: bias-corrected m / sqrt(v) = g / |g| on step 1, so p1 = p0 - lr * g / (|g| + eps)
            p0 = params[key][name].astype(np.float64)
            p1_ref = p0 - lr * g_ref / (np.abs(g_ref) + eps)
            assert new_params[key][name].dtype == np.float32
            mask = np.abs(g_ref) > 1e-3 * scale  # tiny gradients: g/|g| is ill-conditioned there
            assert_close(new_params[key][name].astype(np.float64)[mask], p1_ref[mask], rtol=0, atol=2e-7 + lr * 1e-3)
    assert set(new_params) == set(params) and new_params["1"] == {} and new_params["3"] == {}
