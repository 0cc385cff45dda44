"""Interpreter implementations of the linalg ops (being written)."""

from xdsl.interpreter import InterpreterFunctions, register_impls


@register_impls
class LinalgFunctions(InterpreterFunctions):
    pass
