"""Interpreter implementations of the rankk ops (being written)."""

from xdsl.interpreter import InterpreterFunctions, register_impls


@register_impls
class RankKFunctions(InterpreterFunctions):
    pass
