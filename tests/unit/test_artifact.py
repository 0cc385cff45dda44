"""AOT artifacts (`.stpack`): building, loading through the minimal runtime, and rejecting bad ones."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

import runtime
import spiraltorch as st
from spiraltorch.codegen import aot

REPO = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(7)


def softmax(x):
    e = st.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def tree(params, x, n):
    y = x * params["w"] + params["b"]
    return {"y": y, "parts": (st.relu(y), [x.sum(axis=0), None]), "n": n * 2}


def _build(fn, path, *args):
    lowered = st.compile(fn, target="cpu").lower(*args)
    aot.save(lowered, str(path))
    return path


@pytest.fixture(scope="module")
def softmax_pack(tmp_path_factory):
    return _build(softmax, tmp_path_factory.mktemp("art") / "softmax.stpack", np.zeros((5, 7), np.float32))


@pytest.fixture
def pack(softmax_pack, tmp_path):
    """A private copy of the softmax artifact, to tamper with."""
    dst = tmp_path / "copy.stpack"
    shutil.copytree(softmax_pack, dst)
    return dst


def _manifest(path):
    return json.loads((path / "manifest.json").read_text())


def _write_manifest(path, m):
    (path / "manifest.json").write_text(json.dumps(m))


# --- building and calling ---------------------------------------------------------------------------
def test_manifest_fields(softmax_pack):
    m = _manifest(softmax_pack)
    assert m["format"] == "spiraltorch-artifact" and m["version"] == 1 and m["entry"] == "main"
    assert m["inputs"] == [{"name": "x", "shape": [5, 7], "dtype": "float32"}]
    assert m["outputs"] == [{"name": "out", "shape": [5, 7], "dtype": "float32"}]
    assert m["out_tree"] == {"kind": "leaf"}
    lib = softmax_pack / m["library"]["file"]
    assert hashlib.sha256(lib.read_bytes()).hexdigest() == m["library"]["sha256"]
    assert set(m["target"]) == {"triple", "cpu", "features"} and set(m["compiler"]) == {"spiraltorch", "llvmlite"}
    assert isinstance(m["workspace_bytes"], int)
    assert sorted(os.listdir(softmax_pack)) == sorted(["manifest.json", m["library"]["file"]])


def test_load_and_call_positional_and_by_name(softmax_pack):
    model = runtime.load(softmax_pack)
    x = RNG.standard_normal((5, 7)).astype(np.float32)
    np.testing.assert_allclose(model(x), np_softmax(x), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(model(x=x), np_softmax(x), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(model(np.asfortranarray(x)), np_softmax(x), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(model(x.tolist()), np_softmax(x), rtol=2e-6, atol=1e-7)  # lists take the dtype
    assert "softmax(x: float32[5,7])" in repr(model)


def test_pytree_outputs_and_mixed_dtypes(tmp_path):
    params = {"w": np.zeros(4, np.float32), "b": np.zeros(4, np.float32)}
    path = _build(tree, tmp_path / "tree.stpack", params, np.zeros((3, 4), np.float32), np.zeros((), np.int32))
    m = _manifest(path)
    assert [i["name"] for i in m["inputs"]] == ["params_b", "params_w", "x", "n"]
    assert [i["dtype"] for i in m["inputs"]] == ["float32", "float32", "float32", "int32"]
    model = runtime.load(path)
    w, b = RNG.standard_normal(4).astype(np.float32), RNG.standard_normal(4).astype(np.float32)
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    out = model(params_w=w, params_b=b, x=x, n=np.int32(5))
    y = x * w + b
    assert set(out) == {"y", "parts", "n"}
    np.testing.assert_allclose(out["y"], y, rtol=1e-6)
    relu, (s, none) = out["parts"][0], out["parts"][1]
    assert isinstance(out["parts"], tuple) and isinstance(out["parts"][1], list) and none is None
    np.testing.assert_allclose(relu, np.maximum(y, 0), rtol=1e-6)
    np.testing.assert_allclose(s, x.sum(axis=0), rtol=1e-5)
    assert out["n"] == 10 and out["n"].dtype == np.int32


def test_matmul_artifact_carries_its_gemm(tmp_path):
    """Programs with f32 matmuls call st_sgemm: it is linked into the library (the JIT provides it otherwise)."""
    a0, b0 = np.zeros((2, 64, 48), np.float32), np.zeros((48, 40), np.float32)
    lowered = st.compile(lambda a, b: st.relu(a @ b), target="cpu").lower(a0, b0)
    assert aot.needs_gemm(aot.kernel_module(lowered))
    path = tmp_path / "mm.stpack"
    aot.save(lowered, str(path))
    a, b = RNG.standard_normal(a0.shape).astype(np.float32), RNG.standard_normal(b0.shape).astype(np.float32)
    np.testing.assert_allclose(runtime.load(path)(a, b), np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)


def test_unsupported_output_structure_is_rejected(tmp_path):
    Pair = namedtuple("Pair", "a b")
    lowered = st.compile(lambda x: Pair(x + 1, x * 2), target="cpu").lower(np.zeros(3, np.float32))
    with pytest.raises(st.UsageError, match="a Pair in the output structure cannot be stored in an artifact"):
        aot.save(lowered, str(tmp_path / "p.stpack"))
    assert not (tmp_path / "p.stpack").exists()
    lowered = st.compile(lambda x: {1: x}, target="cpu").lower(np.zeros(3, np.float32))
    with pytest.raises(st.UsageError, match="dict keys must be strings"):
        aot.save(lowered, str(tmp_path / "q.stpack"))


def test_save_replaces_an_artifact_but_nothing_else(tmp_path):
    path = tmp_path / "m.stpack"
    _build(lambda x: x + 1, path, np.zeros(3, np.float32))
    _build(lambda x: x * 3, path, np.zeros(3, np.float32))
    np.testing.assert_array_equal(runtime.load(path)(np.ones(3, np.float32)), [3, 3, 3])
    assert [p.name for p in tmp_path.iterdir()] == ["m.stpack"]  # no temporaries left
    (tmp_path / "file").write_text("precious")
    with pytest.raises(st.UsageError, match="exists and is not an artifact directory"):
        _build(lambda x: x, tmp_path / "file", np.zeros(3, np.float32))
    assert (tmp_path / "file").read_text() == "precious"


# --- validation: every problem is one ArtifactError line ----------------------------------------------
def _load_error(path) -> str:
    with pytest.raises(runtime.ArtifactError) as info:
        runtime.load(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_bad_json(pack):
    (pack / "manifest.json").write_text('{"format": "spiraltorch-artifact", ')
    assert "manifest.json is not valid JSON" in _load_error(pack)


def test_missing_manifest_and_missing_artifact(pack, tmp_path):
    assert "no such artifact" in _load_error(tmp_path / "nope.stpack")
    (pack / "manifest.json").unlink()
    assert "cannot read manifest.json" in _load_error(pack)


@pytest.mark.parametrize("field", ["format", "version", "entry", "inputs", "outputs", "out_tree",
                                   "workspace_bytes", "library", "target", "compiler"])
def test_missing_field(pack, field):
    m = _manifest(pack)
    del m[field]
    _write_manifest(pack, m)
    assert f"manifest.json has no '{field}' field" in _load_error(pack)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(format="onnx"), "unknown artifact format 'onnx'"),
    (lambda m: m.update(version=2), "artifact format version 2 is not supported"),
    (lambda m: m.update(version="1"), "manifest field 'version' must be int, got str"),
    (lambda m: m["inputs"][0].update(dtype="float8"), "inputs[0] ('x') has unknown dtype 'float8'"),
    (lambda m: m["inputs"][0].update(shape=[5, -7]), "inputs[0] ('x') has a bad shape [5, -7]"),
    (lambda m: m.update(out_tree={"kind": "tuple", "children": []}), "out_tree has 0 leaves but there are 1"),
    (lambda m: m.update(out_tree={"kind": "set"}), "unknown out_tree node kind 'set'"),
    (lambda m: m["library"].update(file="../../etc/lib.so"), "must be a plain file name inside the artifact"),
    (lambda m: m["library"].update(sha256="abc"), "library sha256 must be 64 lowercase hex digits"),
    (lambda m: m["target"].update(triple="aarch64-unknown-linux-gnu"), "built for aarch64-unknown-linux-gnu"),
    (lambda m: m.update(entry="nosuch"), "has no entry symbol 'nosuch'"),
])
def test_bad_manifest_values(pack, change, message):
    m = _manifest(pack)
    change(m)
    _write_manifest(pack, m)
    assert message in _load_error(pack)


def test_wrong_hash_and_tampered_library(pack):
    m = _manifest(pack)
    lib = pack / m["library"]["file"]
    good = m["library"]["sha256"]
    m["library"]["sha256"] = "0" * 64
    _write_manifest(pack, m)
    assert "does not match the sha256 in manifest.json (tampered or corrupt)" in _load_error(pack)
    m["library"]["sha256"] = good
    _write_manifest(pack, m)
    data = bytearray(lib.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    lib.write_bytes(bytes(data))
    assert "tampered or corrupt" in _load_error(pack)
    lib.write_bytes(bytes(data[:100]))  # truncated
    assert "tampered or corrupt" in _load_error(pack)


def test_unloadable_library_with_matching_hash(pack):
    m = _manifest(pack)
    lib = pack / m["library"]["file"]
    lib.write_bytes(b"not an ELF file at all")
    m["library"]["sha256"] = hashlib.sha256(lib.read_bytes()).hexdigest()
    _write_manifest(pack, m)
    assert f"cannot load {lib.name}" in _load_error(pack)


def test_missing_library(pack):
    m = _manifest(pack)
    (pack / m["library"]["file"]).unlink()
    assert f"library {m['library']['file']} is missing" in _load_error(pack)


def test_cpu_without_the_needed_features(pack, monkeypatch):
    from runtime import artifact

    m = _manifest(pack)
    m["target"]["features"] = "+avx2,+avx512f"
    _write_manifest(pack, m)
    monkeypatch.setattr(artifact, "_cpu_flags", lambda: {"sse2", "avx"})
    assert "needs avx2, avx512f, which this CPU lacks" in _load_error(pack)


def _call_error(model, *args, **kwargs) -> str:
    with pytest.raises(runtime.ArtifactError) as info:
        model(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_call_errors(softmax_pack):
    model = runtime.load(softmax_pack)
    x = np.zeros((5, 7), np.float32)
    assert _call_error(model, np.zeros((5, 8), np.float32)) == \
        "softmax: input 'x' must have shape (5, 7), got (5, 8)"
    assert _call_error(model, x.astype(np.float64)) == "softmax: input 'x' must be float32, got float64"
    assert _call_error(model, x.astype(np.int32)) == "softmax: input 'x' must be float32, got int32"
    assert _call_error(model, x, x) == "softmax takes 1 input(s) (x); got 2"
    assert _call_error(model) == "softmax: missing input(s) x (takes x)"
    assert _call_error(model, y=x) == "softmax has no input 'y' (inputs: x)"
    assert _call_error(model, x, x=x) == "softmax: input 'x' given both by position and by name"
    assert "input 'x' cannot be converted to float32" in _call_error(model, "abc")


# --- no compiler imports, no C compiler ----------------------------------------------------------------
BLOCKED = ("spiraltorch", "xdsl", "lark", "networkx", "llvmlite")


def test_runtime_runs_without_the_compiler(tmp_path, softmax_pack):
    """A fresh interpreter whose imports of the compiler's packages fail still loads and runs artifacts."""
    params = {"w": np.zeros(4, np.float32), "b": np.zeros(4, np.float32)}
    tree_pack = _build(tree, tmp_path / "tree.stpack", params, np.zeros((3, 4), np.float32), np.zeros((), np.int32))
    script = textwrap.dedent(f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError("blocked: " + name)
                return None

        sys.meta_path.insert(0, Block())
        try:
            import spiraltorch  # noqa
            raise SystemExit("the import blocker does not work")
        except ImportError:
            pass
        import numpy as np
        import runtime

        rng = np.random.default_rng(3)
        x = rng.standard_normal((5, 7)).astype(np.float32)
        y = runtime.load({str(softmax_pack)!r})(x)
        e = np.exp(x - x.max(axis=1, keepdims=True))
        np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=2e-6, atol=1e-7)

        w, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
        x = rng.standard_normal((3, 4)).astype(np.float32)
        out = runtime.load({str(tree_pack)!r})({{"w": w, "b": b}}["b"], w, x, np.int32(4))
        np.testing.assert_allclose(out["y"], x * w + b, rtol=1e-6)
        assert out["n"] == 8
        try:
            runtime.load({str(softmax_pack)!r})(np.zeros(3, np.float32))
        except runtime.ArtifactError as err:
            print("error:", err)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
        print("compiler modules:", leaked)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert "error: softmax: input 'x' must have shape (5, 7), got (3,)" in r.stdout
    assert "compiler modules: []" in r.stdout


def test_no_c_compiler_falls_back_to_jit_with_one_warning(monkeypatch, tmp_path):
    from spiraltorch import cache

    monkeypatch.setenv("SPIRAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SPIRAL_CACHE", raising=False)
    monkeypatch.setattr(aot, "find_cc", lambda: None)
    monkeypatch.setattr(cache, "_warned", set())
    x = RNG.standard_normal((4, 6)).astype(np.float32)
    before = cache.stats()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(st.compile(softmax, target="cpu")(x), np_softmax(x), rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(st.compile(lambda x: x * 2, target="cpu")(x), x * 2)
    msgs = [str(w.message) for w in caught if issubclass(w.category, cache.CacheWarning)]
    assert len(msgs) == 1 and "no C compiler (cc, gcc or clang) on PATH" in msgs[0] and "JIT" in msgs[0]
    after = cache.stats()
    assert after.jit - before.jit == 2 and after.hits == before.hits
    assert not list((tmp_path / "cache").rglob("*.so"))  # nothing was cached
    with pytest.raises(aot.NoCompilerError, match="no C compiler"):
        aot.save(st.compile(softmax).lower(x), str(tmp_path / "m.stpack"))


def test_stc_build_without_a_c_compiler(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("import spiraltorch as st\n\ndef f(x):\n    return st.exp(x)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": os.path.dirname(sys.executable)}
    r = subprocess.run([sys.executable, "-m", "spiraltorch.cli", "build", f"{src}:f", "--arg", "x=f32[4]",
                        "-o", str(tmp_path / "m.stpack")], capture_output=True, text=True, env=env)
    if shutil.which("cc", path=env["PATH"]) or shutil.which("gcc", path=env["PATH"]):
        pytest.skip("a C compiler lives next to the Python executable")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "stc: error: no C compiler (cc, gcc or clang) on PATH: cannot link a shared object "
        "(install one, e.g. `apt-get install gcc`)"]
    assert not (tmp_path / "m.stpack").exists()
