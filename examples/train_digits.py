"""Train an MLP on scikit-learn's handwritten digits with ONE compiled training step.

The whole step (forward pass, cross-entropy loss, `st.value_and_grad`, Adam update) is a single
`@st.compile`d function, traced once and compiled to native code (the default `cpu` target); the loop runs it
through `st.nn.train_epoch` with a tqdm progress bar. Evaluation uses a compiled `predict` (argmax), which is
finally shipped as an artifact (what `stc build` writes) and reloaded with the minimal `runtime`.

Run: bash scripts/demo.sh     (or .venv/bin/python examples/train_digits.py [--epochs N] [--target interp] ...)
Data: `sklearn.datasets.load_digits` (1797 8x8 images, bundled with scikit-learn, no download), split 1437/360
(stratified, fixed: `SPLIT_SEED`), features standardised with the training set's mean and std.
Exit code 1 if the test accuracy is below 95%.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

import spiraltorch as st

nn = st.nn

TARGET_ACCURACY = 0.95
SPLIT_SEED = 0  # the train/test split never changes; --seed sets the initial weights and the batch order
TEST_SIZE = 360

# The model, the loss and the optimizer hold only hyper-parameters: the weights and Adam's moments are pytrees
# (dicts of numpy arrays) passed in and out of the compiled step.
MODEL = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
LOSS = nn.CrossEntropyLoss()
OPT = st.optim.Adam(lr=1e-3)


def compile_step(target: str = "cpu"):
    """The whole training step as ONE compiled function."""

    @st.compile(target=target)
    def step(params, opt_state, x, y):
        loss, grads = st.value_and_grad(lambda p: LOSS(MODEL(p, x), y))(params)
        params, opt_state = OPT.update(params, grads, opt_state)
        return params, opt_state, loss

    return step


def compile_predict(target: str = "cpu"):
    @st.compile(target=target)
    def predict(params, x):
        return st.argmax(MODEL(params, x), axis=-1)

    return predict


def load_data():
    """(x_train, y_train, x_test, y_test): float32 standardised features (N, 64), int64 labels (N,)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(digits.data, digits.target.astype(np.int64), test_size=TEST_SIZE,
                                              random_state=SPLIT_SEED, stratify=digits.target)
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std[std == 0] = 1.0  # pixels that are always 0 in the training set (image corners)
    return (((x_tr - mean) / std).astype(np.float32), y_tr,
            ((x_te - mean) / std).astype(np.float32), y_te)


@dataclass
class Result:
    """What a run measured (main() returns it; the test reads it)."""

    target: str
    epochs: int
    batch_size: int
    seed: int
    compile_s: float = float("nan")  # the step's first call: trace + autodiff + compile (+ one step)
    compile_source: str = ""  # "compiled", "disk cache" or "interp"
    first_loss: float = float("nan")  # the loss of that first call (the initial weights, first batch)
    epoch_losses: list[float] = field(default_factory=list)
    steps: int = 0
    train_s: float = 0.0  # wall time of the training epochs (the step already compiled)
    train_accuracy: float = float("nan")
    test_accuracy: float = float("nan")
    artifact_accuracy: float | None = None  # the shipped predict, reloaded with runtime.load (None: skipped)

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.train_s if self.train_s > 0 else float("nan")

    @property
    def passed(self) -> bool:
        return bool(self.test_accuracy >= TARGET_ACCURACY)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    p.add_argument("--seed", type=int, default=0, help="initial weights and batch order (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    p.add_argument("--target", choices=["cpu", "interp"], default="cpu",
                   help="cpu: native code through LLVM (default); interp: the numpy reference interpreter")
    p.add_argument("--no-export", action="store_true", help="skip shipping predict as an artifact")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1:
        p.error("--epochs and --batch-size must be >= 1")
    return args


def main(argv=None) -> Result:
    args = parse_args(argv)
    x_tr, y_tr, x_te, y_te = load_data()
    if args.batch_size > len(x_tr):
        sys.exit(f"train_digits.py: error: --batch-size {args.batch_size} is larger than the training set "
                 f"({len(x_tr)} images)")
    res = Result(args.target, args.epochs, args.batch_size, args.seed)
    sizes = "-".join(str(m.in_features) for m in MODEL if isinstance(m, nn.Linear)) + f"-{MODEL[-1].out_features}"
    print(f"digits: {len(x_tr)} train / {len(x_te)} test images (8x8 pixels, 10 classes); MLP {sizes} (ReLU), "
          f"cross-entropy, Adam(lr={OPT.lr}), batch {args.batch_size}, seed {args.seed}")

    step, predict = compile_step(args.target), compile_predict(args.target)
    params = MODEL.init(seed=args.seed)
    opt_state = OPT.init(params)
    data = nn.batches(x_tr, y_tr, batch_size=args.batch_size, seed=args.seed)  # reshuffled every epoch

    # Compile: the first call traces, differentiates and compiles the step. Its result is discarded, so
    # training below starts from the initial weights; the time is reported on its own.
    from spiraltorch import cache

    hits = cache.stats().hits
    xb, yb = next(iter(nn.batches(x_tr, y_tr, batch_size=args.batch_size, shuffle=False)))
    t0 = time.perf_counter()
    *_, loss = step(params, opt_state, xb, yb)
    res.compile_s = time.perf_counter() - t0
    res.first_loss = float(loss)
    res.compile_source = ("interp" if args.target == "interp"
                          else "disk cache" if cache.stats().hits > hits else "compiled")
    note = {"interp": "trace + autodiff; the interp target compiles nothing",
            "disk cache": "loaded from the on-disk compile cache; SPIRAL_CACHE=0 recompiles",
            "compiled": "trace + autodiff + LLVM"}[res.compile_source]
    print(f"compiled step(params, opt_state, x[{args.batch_size},64], y[{args.batch_size}]) for target "
          f"'{args.target}' in {res.compile_s:.2f} s ({note}); first loss {res.first_loss:.4f}")
    predict(params, x_te)  # compile predict too, outside the timed training

    def train_step(state, x, y):  # train_epoch's calling convention: (state, *batch) -> (state, loss)
        params, opt_state, loss = step(*state, x, y)
        return (params, opt_state), loss

    state = (params, opt_state)
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        state, loss = nn.train_epoch(train_step, state, data, progress=not args.no_progress,
                                     desc=f"epoch {epoch + 1}/{args.epochs}")
        seconds = time.perf_counter() - t0
        res.train_s += seconds
        res.steps += len(data)
        res.epoch_losses.append(loss)
        acc = float(np.mean(predict(state[0], x_te) == y_te))
        print(f"epoch {epoch + 1:2d}/{args.epochs}  loss {loss:.4f}  test accuracy {acc:6.1%}  "
              f"({len(data)} steps, {seconds:.2f} s)")
    params = state[0]

    res.train_accuracy = float(np.mean(predict(params, x_tr) == y_tr))
    res.test_accuracy = float(np.mean(predict(params, x_te) == y_te))
    print(f"trained {res.steps} steps in {res.train_s:.2f} s: {res.steps_per_s:.0f} steps/s "
          f"(batch {args.batch_size}, compile excluded)")
    print(f"train accuracy {res.train_accuracy:.1%}")
    if not args.no_export:
        res.artifact_accuracy = export_predict(predict, params, x_te, y_te)
    print(f"test accuracy {res.test_accuracy:.1%} (>= {TARGET_ACCURACY:.0%}: {'yes' if res.passed else 'NO'})")
    return res


def export_predict(predict, params, x_te, y_te) -> float | None:
    """Ship predict (what `stc build` does) and run the artifact through the minimal runtime."""
    from spiraltorch.codegen import aot
    from spiraltorch.frontend import pytree

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digits_predict.stpack")
        try:
            manifest = aot.save(predict.lower(params, x_te), path)
        except aot.NoCompilerError as err:
            print(f"artifact: skipped ({err})")
            return None
        import runtime  # numpy only: no compiler import

        model = runtime.load(path)
        # The artifact takes the flat leaves of (params, x) in pytree order (or by name: params_0_weight=...).
        leaves, _ = pytree.flatten((params, x_te))
        acc = float(np.mean(model(*leaves) == y_te))
        print(f"artifact: predict shipped as {os.path.basename(path)} (native code, {len(manifest['inputs'])} "
              f"inputs, {manifest['library']['file']}), reloaded with runtime.load: test accuracy {acc:.1%}")
    return acc


if __name__ == "__main__":
    sys.exit(main().exit_code)
