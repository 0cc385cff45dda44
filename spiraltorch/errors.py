"""User-facing errors. Each carries one readable line; `stc` prints it without a traceback."""

from __future__ import annotations


class SpiralError(Exception):
    """Base of every error SpiralTorch reports to users."""


class TraceError(SpiralError):
    """The traced Python function did something that cannot be compiled (message names file:line)."""


class IRError(SpiralError):
    """Invalid or unparsable SpiralIR."""


class CompileError(SpiralError):
    """A pass or a backend could not handle the program."""


class UsageError(SpiralError):
    """Bad arguments to a SpiralTorch API or to `stc`."""
