"""Training-loop helpers: `batches` (minibatches of numpy arrays), `train_epoch` (one pass of a compiled step
with a tqdm progress bar) and `Trainer` (several epochs, per-epoch loss and steps/s).

A step is any callable `step(state, *batch) -> (state, loss)`, normally ONE `st.compile`d function doing the
forward pass, the loss, `st.value_and_grad` and the optimizer update; `state` is whatever pytree it threads
through (e.g. `(params, opt_state)`), `loss` a scalar (0-d array or Python number).
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from spiraltorch.errors import UsageError


# --- minibatches ---------------------------------------------------------------------------------
class Batches:
    """Re-iterable minibatches of arrays that share their first (sample) axis; see `batches`."""

    def __init__(self, arrays: tuple[np.ndarray, ...], batch_size: int, shuffle: bool, seed, drop_last: bool):
        self.arrays = arrays
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.num_samples = len(arrays[0])
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def __iter__(self):
        n, bs = self.num_samples, self.batch_size
        order = self._rng.permutation(n) if self.shuffle else None
        for i in range(len(self)):
            lo, hi = i * bs, min((i + 1) * bs, n)
            if order is None:
                yield tuple(np.ascontiguousarray(a[lo:hi]) for a in self.arrays)
            else:
                idx = order[lo:hi]
                yield tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        return (f"Batches({self.num_samples} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}: {len(self)} batches)")


def batches(x, y=None, batch_size: int = 32, *, shuffle: bool = True, seed=0, drop_last: bool = True) -> Batches:
    """Minibatches (x[idx], y[idx]) (or (x[idx],) when y is None) over the first axis.

    shuffle=True visits the samples in a random order, a new permutation at every iteration, drawn from
    numpy's default_rng(seed) created here: the same seed gives the same sequence of epochs. shuffle=False
    keeps the order. drop_last=True drops the final short batch (so every batch has one shape and the compiled
    step compiles once); drop_last=False keeps it. The result has len() = number of batches per epoch and can be
    iterated once per epoch. Batches are C-contiguous numpy arrays of the inputs' dtypes.
    """
    arrays = tuple(np.asarray(a) for a in ((x,) if y is None else (x, y)))
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UsageError(f"batches: batch_size must be an int >= 1, got {batch_size!r}")
    for a in arrays:
        if a.ndim == 0:
            raise UsageError("batches: x and y must have a sample axis (got a 0-d array)")
    if y is not None and len(arrays[0]) != len(arrays[1]):
        raise UsageError(f"batches: x has {len(arrays[0])} samples but y has {len(arrays[1])}")
    return Batches(arrays, int(batch_size), bool(shuffle), seed, bool(drop_last))


# --- one epoch -----------------------------------------------------------------------------------
def _loss_value(loss) -> float:
    arr = np.asarray(loss)
    if arr.size != 1:
        raise UsageError(f"train_epoch: the step's loss must be a scalar, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def _run_epoch(step: Callable, state, batches: Iterable, progress: bool, desc: str | None):
    from tqdm.auto import tqdm  # imported on first use: `import spiraltorch` stays light

    try:
        total = len(batches)  # type: ignore[arg-type]
    except TypeError:
        total = None
    bar = tqdm(batches, desc=desc, total=total, disable=not progress, unit="step", dynamic_ncols=True)
    loss_sum, n = 0.0, 0
    try:
        for batch in bar:
            args = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
            out = step(state, *args)
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise UsageError("train_epoch: step(state, *batch) must return (state, loss), got "
                                 f"{type(out).__name__}")
            state, loss = out
            loss_sum += _loss_value(loss)
            n += 1
            if progress:
                bar.set_postfix(loss=f"{loss_sum / n:.4g}", refresh=False)
    finally:
        bar.close()
    if n == 0:
        raise UsageError("train_epoch: batches yielded no batch (fewer samples than batch_size with "
                         "drop_last=True, or an iterator that was already consumed?)")
    return state, loss_sum / n, n


def train_epoch(step: Callable, state, batches: Iterable, *, progress: bool = True, desc: str | None = "train"):
    """Run `state, loss = step(state, *batch)` for every batch; return (state, mean loss as a Python float).

    A batch that is a tuple or list is unpacked into the step's arguments; anything else is passed as one
    argument. progress=True shows a tqdm bar (with `desc`) whose postfix is the running mean loss. Each loss is
    read back as a float (0-d array, numpy or Python scalar).
    """
    state, mean, _ = _run_epoch(step, state, batches, progress, desc)
    return state, mean


# --- several epochs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class EpochStats:
    epoch: int  # 0-based, counted over every fit() of this Trainer
    loss: float  # mean loss over the epoch's steps
    steps: int
    seconds: float  # wall time of the epoch (the first includes compiling the step)
    steps_per_s: float


def _takes_epoch(fn) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(sig.parameters.values())
    return any(p.kind in kinds for p in params) or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)


class Trainer:
    """Trainer(step, state).fit(batches_fn, epochs) -> list of per-epoch mean losses.

    `state` is updated in place on the Trainer (`trainer.state`); `trainer.history` holds one `EpochStats` per
    epoch (loss, steps, seconds, steps/s) and `trainer.steps_per_s` is the last epoch's rate.
    `batches_fn` gives each epoch's batches: a function called as batches_fn(epoch) (or batches_fn() if it takes
    no argument), or a re-iterable such as `st.nn.batches(...)` or a list, iterated once per epoch.
    """

    def __init__(self, step: Callable, state):
        if not callable(step):
            raise UsageError(f"Trainer: step must be callable, got {type(step).__name__}")
        self.step = step
        self.state = state
        self.history: list[EpochStats] = []

    @property
    def epoch(self) -> int:
        """Number of epochs run so far."""
        return len(self.history)

    @property
    def steps_per_s(self) -> float:
        return self.history[-1].steps_per_s if self.history else math.nan

    def fit(self, batches_fn, epochs: int = 1, *, progress: bool = True) -> list[float]:
        if isinstance(epochs, (bool, np.bool_)) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise UsageError(f"Trainer.fit: epochs must be an int >= 0, got {epochs!r}")
        if not callable(batches_fn) and iter(batches_fn) is batches_fn and epochs > 1:
            raise UsageError("Trainer.fit: batches_fn is a one-shot iterator; pass a function returning each "
                             "epoch's batches, or a re-iterable (st.nn.batches(...), a list)")
        losses = []
        first = self.epoch
        for e in range(first, first + epochs):
            if callable(batches_fn):
                data = batches_fn(e) if _takes_epoch(batches_fn) else batches_fn()
            else:
                data = batches_fn
            t0 = time.perf_counter()
            self.state, loss, steps = _run_epoch(self.step, self.state, data, progress,
                                                 f"epoch {e + 1}/{first + epochs}")
            seconds = time.perf_counter() - t0
            self.history.append(EpochStats(e, loss, steps, seconds, steps / seconds if seconds > 0 else math.inf))
            losses.append(loss)
        return losses
