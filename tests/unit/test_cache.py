"""The cpu target's on-disk compile cache: reuse across processes, corruption, races, SPIRAL_CACHE=0.

Each scenario runs in fresh interpreters (subprocesses sharing SPIRAL_CACHE_DIR=tmp_path), as real
reuse would. The children pin the compiler-source fingerprint: other people editing this checkout
while the test runs must not turn an expected hit into a miss.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import runtime.artifact
import spiraltorch as st
from spiraltorch import cache
from spiraltorch.codegen import aot

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import json, os, sys, time, warnings
    import numpy as np
    import spiraltorch as st
    from spiraltorch import cache

    cache.compiler_fingerprint = lambda: "pinned-by-test"
    go = os.environ.get("TEST_GO_FILE")
    while go and not os.path.exists(go):  # start line for the race test
        time.sleep(0.001)

    @st.compile(target="cpu")
    def softmax(x):
        e = st.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), x.sum()

    x = np.random.default_rng(int(os.environ.get("TEST_SEED", "0"))).standard_normal((64, 33)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y, s = softmax(x)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    err = float(max(np.abs(y - e / e.sum(axis=1, keepdims=True)).max(), abs(s - x.sum()) / 64))
    print(json.dumps({"stats": cache.stats().__dict__, "err": err, "llvm": "llvmlite.binding" in sys.modules,
                      "warnings": [str(w.message) for w in caught]}))
""")


def _env(cache_dir, **extra):
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPIRAL_CACHE_DIR": str(cache_dir)}
    env.pop("SPIRAL_CACHE", None)
    env.update(extra)
    return env


def _child(cache_dir, **extra) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=_env(cache_dir, **extra))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["err"] < 1e-5, out  # always checked against numpy
    return out


def _entries(cache_dir) -> list[Path]:
    d = Path(cache_dir) / "cpu"
    return sorted(d.iterdir()) if d.exists() else []


def _only_entry(cache_dir) -> Path:
    entries = _entries(cache_dir)
    assert len(entries) == 1, entries  # also: no temporaries or trash left behind
    # valid, short of loading it: this process must not map a library that a test then truncates (SIGBUS)
    runtime.artifact.verify(entries[0])
    return entries[0]


def test_new_process_reuses_the_entry(tmp_path):
    first = _child(tmp_path)
    assert first["stats"]["builds"] == 1 and first["stats"]["stores"] == 1 and first["stats"]["hits"] == 0
    entry = _only_entry(tmp_path)
    second = _child(tmp_path)
    assert second["stats"]["hits"] == 1 and second["stats"]["builds"] == 0
    assert not second["llvm"], "a cache hit must not load LLVM"
    assert second["warnings"] == []
    assert _only_entry(tmp_path) == entry


def test_cache_disabled_builds_every_time(tmp_path):
    for _ in range(2):
        out = _child(tmp_path, SPIRAL_CACHE="0")
        assert out["stats"]["builds"] == 1 and out["stats"]["jit"] == 1 and out["stats"]["hits"] == 0
    assert _entries(tmp_path) == []


def _corrupt_truncated_library(entry: Path):
    m = json.loads((entry / "manifest.json").read_text())
    lib = entry / m["library"]["file"]
    lib.write_bytes(lib.read_bytes()[: lib.stat().st_size // 3])


def _corrupt_manifest(entry: Path):
    (entry / "manifest.json").write_text((entry / "manifest.json").read_text()[:40])


def _corrupt_hash(entry: Path):
    m = json.loads((entry / "manifest.json").read_text())
    m["library"]["sha256"] = "f" * 64
    (entry / "manifest.json").write_text(json.dumps(m))


def _corrupt_unloadable(entry: Path):
    import hashlib

    m = json.loads((entry / "manifest.json").read_text())
    lib = entry / m["library"]["file"]
    lib.write_bytes(b"\x7fELF garbage")
    m["library"]["sha256"] = hashlib.sha256(lib.read_bytes()).hexdigest()
    (entry / "manifest.json").write_text(json.dumps(m))


def _corrupt_signature(entry: Path):
    m = json.loads((entry / "manifest.json").read_text())
    m["inputs"][0]["shape"] = [1, 1]
    (entry / "manifest.json").write_text(json.dumps(m))


def _corrupt_missing_library(entry: Path):
    m = json.loads((entry / "manifest.json").read_text())
    (entry / m["library"]["file"]).unlink()


@pytest.mark.parametrize("corrupt", [_corrupt_truncated_library, _corrupt_manifest, _corrupt_hash, _corrupt_unloadable,
                                     _corrupt_signature, _corrupt_missing_library],
                         ids=lambda f: f.__name__.removeprefix("_corrupt_"))
def test_corrupt_entry_is_discarded_and_rebuilt(tmp_path, corrupt):
    _child(tmp_path)
    entry = _only_entry(tmp_path)
    corrupt(entry)
    out = _child(tmp_path)
    assert out["stats"]["discarded"] == 1 and out["stats"]["builds"] == 1 and out["stats"]["stores"] == 1
    assert len(out["warnings"]) == 1
    assert f"discarding corrupt compile-cache entry {entry}" in out["warnings"][0]
    assert _only_entry(tmp_path) == entry  # rebuilt in place, valid again
    again = _child(tmp_path)
    assert again["stats"]["hits"] == 1 and again["warnings"] == []


def test_two_processes_compiling_at_once(tmp_path):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env(tmp_path / "cache", TEST_GO_FILE=str(go)))
             for _ in range(2)]
    time.sleep(0.5)  # let both import spiraltorch and wait at the start line
    go.touch()
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    for out in outs:
        assert out["err"] < 1e-5 and out["warnings"] == []
        s = out["stats"]
        # each either built (and stored, or lost the rename race and used the winner's) or hit the stored one
        assert s["hits"] + s["builds"] == 1 and s["stores"] + s["races_lost"] + s["hits"] == 1
    assert sum(out["stats"]["stores"] for out in outs) == 1
    _only_entry(tmp_path / "cache")


# --- in-process checks of the paths a subprocess cannot steer --------------------------------------------
@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIRAL_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("SPIRAL_CACHE", raising=False)
    monkeypatch.setattr(cache, "compiler_fingerprint", lambda: f"test-{tmp_path.name}")
    return tmp_path


def test_lost_rename_race_uses_the_winners_entry(private_cache, monkeypatch):
    """Another process stores the entry between our lookup and our rename: ours is dropped, theirs used."""
    lowered = st.compile(lambda x: st.tanh(x) * 3, target="cpu").lower(np.zeros(5, np.float32))
    entry = private_cache / "cpu" / cache.key(lowered, cache.host_info(cache.cache_dir()))
    real = aot.write_artifact

    def write_and_lose_the_race(lowered, directory, **kw):
        manifest = real(lowered, directory, **kw)
        entry.mkdir()
        real(lowered, str(entry), **kw)  # "the other process" finishes first
        return manifest

    monkeypatch.setattr(aot, "write_artifact", write_and_lose_the_race)
    before = cache.stats()
    exe = lowered.compile()
    after = cache.stats()
    assert after.races_lost - before.races_lost == 1 and after.stores == before.stores
    assert exe.path == str(entry)
    x = np.linspace(-2, 2, 5, dtype=np.float32)
    np.testing.assert_allclose(exe([x])[0], np.tanh(x) * 3, rtol=1e-6)
    _only_entry(private_cache)


def test_in_process_hit_and_stats(private_cache):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    before = cache.stats()
    f = st.compile(lambda x: st.sigmoid(x) + 1, target="cpu")
    np.testing.assert_allclose(f(x), 1 / (1 + np.exp(-x)) + 1, rtol=1e-6)
    g = st.compile(lambda x: st.sigmoid(x) + 1, target="cpu")  # a new function object: same program
    np.testing.assert_allclose(g(x), 1 / (1 + np.exp(-x)) + 1, rtol=1e-6)
    after = cache.stats()
    assert (after.builds - before.builds, after.hits - before.hits) == (1, 1)
    _only_entry(private_cache)


def test_unwritable_cache_dir_warns_and_still_compiles(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SPIRAL_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(cache, "_warned", set())
    x = np.arange(4, dtype=np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.testing.assert_allclose(st.compile(lambda x: x * 5 - 1, target="cpu")(x), x * 5 - 1)
    assert any("cannot use the compile cache" in str(w.message) for w in caught)


def test_key_depends_on_the_program_and_the_target(private_cache):
    lo = st.compile(lambda x: x + 1, target="cpu").lower
    host = cache.host_info(cache.cache_dir())
    k = cache.key(lo(np.zeros(3, np.float32)), host)
    assert k == cache.key(lo(np.zeros(3, np.float32)), host)
    assert k != cache.key(lo(np.zeros(4, np.float32)), host)
    assert k != cache.key(lo(np.zeros(3, np.float64)), host)
    assert k != cache.key(lo(np.zeros(3, np.float32)), {**host, "cpu": "x86-64"})
    assert k != cache.key(lo(np.zeros(3, np.float32)), {**host, "features": host["features"] + ",+foo"})
