"""`st.compile`: trace once per signature, compile for a target, cache, call.

A signature is the pytree structure of the arguments, the shape and dtype of every array leaf, the
kind of every Python-scalar leaf and the values of static arguments. The first call with a new
signature traces and compiles (a cache miss); later calls look the signature up (a hit).
`f.cache_info()` makes this observable.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from spiraltorch import targets
from spiraltorch.errors import TraceError, UsageError
from spiraltorch.frontend import pytree
from spiraltorch.frontend import trace as tr
from spiraltorch.frontend.tensor import Tensor
from spiraltorch.ir import dtypes, text

_SCALAR_DTYPE = {bool: "i1", int: "i64", float: "f64"}


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    size: int


@dataclass(frozen=True)
class MemoryInfo:
    signature: tuple  # (shape, dtype name) per argument leaf
    input_bytes: int
    output_bytes: int | None
    temporary_bytes: int | None  # peak workspace


def _nbytes(shape, dtype) -> int:
    n = int(np.dtype(dtype).itemsize)
    for d in shape:
        n *= d
    return n


@dataclass(frozen=True)
class ArgSpec:
    """What the compiled code knows about one dynamic leaf."""

    shape: tuple[int, ...]
    dtype: str  # IR dtype name
    weak: bool  # a Python scalar (numpy's weak typing applies)

    @property
    def np_dtype(self) -> np.dtype:
        return dtypes.BY_NAME[self.dtype].np


def leaf_spec(leaf) -> ArgSpec:
    t = type(leaf)
    if t is np.ndarray or isinstance(leaf, np.generic):
        try:
            return ArgSpec(leaf.shape, dtypes.from_numpy(leaf.dtype).name, False)
        except dtypes.DTypeError as err:
            raise tr.user_error(f"argument of dtype {leaf.dtype}: {err}") from None
    if t in _SCALAR_DTYPE:
        return ArgSpec((), _SCALAR_DTYPE[t], True)
    raise tr.user_error(
        f"unsupported argument type {t.__name__}: compiled functions take numpy arrays, Python scalars and "
        "tuples/lists/dicts of them (mark other arguments static with static_argnums)"
    )


class Lowered:
    """A traced function: the SpiralIR module plus how to map pytrees to its flat signature."""

    def __init__(self, module: ModuleOp, func_name: str, in_tree, in_specs, out_tree, target: str):
        self.module = module
        self.func_name = func_name
        self.in_tree = in_tree
        self.in_specs: tuple[ArgSpec, ...] = tuple(in_specs)
        self.out_tree = out_tree
        self.target = target

    def as_text(self, debuginfo: bool = False) -> str:
        """The SpiralIR module as text; debuginfo=True adds each op's `loc("file.py":line:0)`."""
        return text.to_text(self.module, debuginfo=debuginfo)

    def __str__(self) -> str:
        return self.as_text()

    def compile(self, target: str | None = None):
        return targets.get(target or self.target).compile(self)


class CompiledFunction:
    """What `@st.compile` returns. Call it like the original function."""

    def __init__(self, fn: Callable, target: str | None, static_argnums: Sequence[int], static_argnames):
        functools.update_wrapper(self, fn)
        if not hasattr(self, "__name__"):  # a callable object (an nn module, a partial)
            self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.fn = fn
        self.target = target or targets.DEFAULT
        targets.get(self.target)  # unknown target: fail at decoration, not at first call
        self._sig = _signature_of(fn)
        self.static_argnums = _normalize_static(static_argnums, self._sig)
        self.static_argnames = frozenset(static_argnames)
        self._cache: dict = {}
        self._fast: dict = {}
        self._fast_tree: dict = {}
        self._hits = 0
        self._misses = 0

    # -- public --------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not kwargs and self._fast and tr.current() is None:
            # Fast path: positional numpy arrays with a signature seen before (no pytree walk).
            try:
                fast = self._fast.get(tuple([(a.shape, a.dtype) for a in args]))
            except AttributeError:  # not all arrays
                fast = None
            if fast is not None:
                self._hits += 1
                return fast(args)
        if tr.current() is not None and _has_tensor(args, kwargs):
            return self.fn(*args, **kwargs)  # called from another traced function: inline it
        if not kwargs and self._fast_tree and tr.current() is None:
            # Pytrees of arrays (params dicts, optimizer states) seen before: one flatten, no per-leaf specs.
            leaves, treedef = pytree.flatten(args)
            try:
                fast = self._fast_tree.get((treedef, tuple([(a.shape, a.dtype) for a in leaves])))
            except AttributeError:
                fast = None
            if fast is not None:
                self._hits += 1
                return fast(leaves)
        key, leaves = self._key(args, kwargs)
        entry = self._cache.get(key)
        if entry is None:
            self._misses += 1
            lowered = self._trace(args, kwargs, key)
            entry = self._cache[key] = (lowered.compile(), lowered.out_tree)
        else:
            self._hits += 1
        executable, out_tree = entry
        if not kwargs and not self.static_argnums and all(type(a) is np.ndarray for a in args):
            self._fast[tuple([(a.shape, a.dtype) for a in args])] = _fast_entry(executable, out_tree)
        elif not kwargs and not self.static_argnums and all(type(a) is np.ndarray for a in leaves):
            treedef = pytree.flatten(args)[1]
            self._fast_tree[(treedef, tuple([(a.shape, a.dtype) for a in leaves]))] = _fast_entry(executable, out_tree)
        return pytree.unflatten(out_tree, executable(leaves))

    def lower(self, *args, **kwargs) -> Lowered:
        key, _ = self._key(args, kwargs)
        return self._trace(args, kwargs, key)

    def memory_info(self) -> list[MemoryInfo]:
        """Per compiled signature: the bytes of the inputs, outputs and temporaries (the peak of the planned
        workspace, in which intermediate values share space by lifetime). Targets without a workspace (interp)
        report temporaries as None."""
        out = []
        for (_, specs, _), (executable, _) in self._cache.items():
            program = getattr(executable, "program", None)
            ins = sum(_nbytes(s.shape, s.np_dtype) for s in specs)
            outs = sum(_nbytes(s.shape, s.dtype) for s in program.outputs) if program is not None else None
            temps = program.workspace_bytes if program is not None else None
            out.append(MemoryInfo(tuple((s.shape, s.dtype) for s in specs), ins, outs, temps))
        return out

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, len(self._cache))

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast.clear()
        self._fast_tree.clear()
        self._hits = self._misses = 0

    # -- internals -----------------------------------------------------------------------------
    def _split(self, args, kwargs):
        """(dynamic args, dynamic kwargs, static values) for this call."""
        for i in self.static_argnums:
            if i >= len(args):
                raise UsageError(f"{self.__name__}: static argument {i} was not passed positionally")
        dyn = tuple(a for i, a in enumerate(args) if i not in self.static_argnums)
        dyn_kw = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        static = tuple((i, args[i]) for i in self.static_argnums) + tuple(
            sorted((k, v) for k, v in kwargs.items() if k in self.static_argnames)
        )
        try:
            hash(static)
        except TypeError:
            raise tr.user_error("static arguments must be hashable (use tuples, not lists)") from None
        return dyn, dyn_kw, static

    def _key(self, args, kwargs):
        dyn, dyn_kw, static = self._split(args, kwargs)
        leaves, treedef = pytree.flatten((dyn, dyn_kw))
        specs = tuple(leaf_spec(leaf) for leaf in leaves)
        return (treedef, specs, static), leaves

    def _trace(self, args, kwargs, key) -> Lowered:
        treedef, specs, static = key
        dyn, dyn_kw, _ = self._split(args, kwargs)
        names = pytree.leaf_paths(self._named_args(dyn, dyn_kw))
        arg_types = [dtypes.tensor_type(s.shape, s.dtype) for s in specs]
        with tr.TraceContext(self.__name__, arg_types, names) as ctx:
            proxies = [Tensor(v, ctx, weak=s.weak) for v, s in zip(ctx.args, specs, strict=True)]
            p_args, p_kwargs = pytree.unflatten(treedef, proxies)
            out = self.fn(*self._merge_static(p_args, args), **p_kwargs, **_static_kwargs(kwargs, self))
            out_leaves, out_tree = pytree.flatten(out)
            results = [_as_output(leaf) for leaf in out_leaves]
            module = ctx.finish([t.value for t in results])
        # No re-verification here: every op was built by make(), which inferred its types.
        return Lowered(module, ctx.func.sym_name.data, treedef, specs, out_tree, self.target)

    def _merge_static(self, dyn_args, args):
        it = iter(dyn_args)
        return tuple(args[i] if i in self.static_argnums else next(it) for i in range(len(args)))

    def _named_args(self, dyn, dyn_kw):
        params = list(self._sig.parameters) if self._sig else []
        positions = [i for i in range(len(dyn) + len(self.static_argnums)) if i not in self.static_argnums]
        named = {}
        for pos, value in zip(positions, dyn, strict=False):
            named[params[pos] if pos < len(params) else f"arg{pos}"] = value
        named.update(dyn_kw)
        return _Ordered(named)


def _fast_entry(executable, out_tree):
    """A call for positional arrays: skip flattening; a single output skips unflattening too."""
    run = getattr(executable, "call_arrays", executable)
    if out_tree == pytree.LEAF:
        return lambda args: run(args)[0]
    return lambda args: pytree.unflatten(out_tree, run(args))


class _Ordered(dict):
    """A dict whose leaf paths keep argument order (pytree sorts plain dict keys)."""


pytree.register_pytree_node(
    _Ordered, lambda d: (list(d.values()), tuple(d.keys())), lambda keys, ch: _Ordered(zip(keys, ch, strict=True))
)


def _static_kwargs(kwargs, cf: CompiledFunction):
    return {k: v for k, v in kwargs.items() if k in cf.static_argnames}


def _as_output(leaf) -> Tensor:
    from spiraltorch.frontend.ops.common import as_tensor

    if isinstance(leaf, Tensor):
        return leaf
    try:
        return as_tensor(leaf)
    except TraceError:
        raise tr.user_error(
            f"the compiled function returned a {type(leaf).__name__}; outputs must be tensors, arrays, "
            "Python scalars or tuples/lists/dicts of them"
        ) from None


def _has_tensor(args, kwargs) -> bool:
    leaves, _ = pytree.flatten((args, kwargs))
    return any(isinstance(leaf, Tensor) for leaf in leaves)


def _signature_of(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _normalize_static(nums, sig) -> frozenset[int]:
    if isinstance(nums, int):
        nums = (nums,)
    n = len(sig.parameters) if sig else None
    out = set()
    for i in nums:
        if n is not None and i < 0:
            i += n
        if i < 0:
            raise UsageError(f"static_argnums entry {i} is out of range")
        out.add(i)
    return frozenset(out)


def compile(fn: Callable | None = None, *, target: str | None = None, static_argnums=(), static_argnames=()):  # noqa: A001
    """Compile fn (a decorator, with or without arguments).

    target: "cpu" (default: native code through LLVM) or "interp" (the reference interpreter); see
    `spiraltorch.targets`.
    static_argnums / static_argnames: arguments that are Python values baked into the compiled code
    (each distinct value compiles once).
    """
    if fn is None:
        return functools.partial(compile, target=target, static_argnums=static_argnums,
                                 static_argnames=static_argnames)
    if not callable(fn):
        raise UsageError(f"st.compile expects a function, got {type(fn).__name__}")
    return CompiledFunction(fn, target, static_argnums, static_argnames)
