"""Loading `FILE.py:FUNC` for `stc` (the function may or may not be decorated with st.compile)."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys

from spiraltorch.errors import UsageError


def load_function(target: str):
    path, sep, name = target.rpartition(":")
    if not sep or not path.endswith(".py") or not name:
        raise UsageError(f"expected FILE.py:FUNCTION, got '{target}'")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    mod_name = "_stc_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise UsageError(f"{path}:{err.lineno}: syntax error: {err.msg}") from None
    finally:
        sys.path.pop(0)
    fn = getattr(module, name, None)
    if fn is None:
        raise UsageError(f"{path} has no function '{name}'")
    return fn


def compiled(fn):
    """The st.compile wrapper of fn (reusing the user's decoration and its static_argnums)."""
    from spiraltorch.frontend.api import CompiledFunction, compile

    return fn if isinstance(fn, CompiledFunction) else compile(fn)


def parameter_names(fn) -> list[str]:
    inner = getattr(fn, "fn", fn)
    try:
        return list(inspect.signature(inner).parameters)
    except (TypeError, ValueError):
        return []
