"""`st.nn`: layers whose parameters are plain pytrees, losses, and training-loop helpers.

    import spiraltorch as st

    model = st.nn.Sequential(st.nn.Linear(784, 128), st.nn.ReLU(), st.nn.Linear(128, 10))
    params = model.init(seed=0)          # {"0": {"weight", "bias"}, "1": {}, "2": {...}}, numpy float32
    logits = model(params, x)            # pure; traces inside st.compile, runs eagerly on numpy arrays

See docs/nn.md.
"""

from spiraltorch.nn.activation import GELU, Flatten, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from spiraltorch.nn.conv import Conv1d
from spiraltorch.nn.linear import Linear
from spiraltorch.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from spiraltorch.nn.module import Identity, Lambda, Module
from spiraltorch.nn.sequential import Sequential
from spiraltorch.nn.train import Batches, EpochStats, Trainer, batches, train_epoch

__all__ = [
    "Module", "Identity", "Lambda", "Linear", "Conv1d", "ReLU", "Tanh", "Sigmoid", "GELU", "Softmax", "LogSoftmax",
    "Flatten", "Sequential", "MSELoss", "CrossEntropyLoss", "NLLLoss", "train_epoch", "Trainer", "EpochStats",
    "batches", "Batches",
]
