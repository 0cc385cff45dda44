# lit configuration for SpiralTorch's compiler tests (run through tests/test_lit.py by pytest).
import os
import sys

import lit.formats

config.name = "spiraltorch"  # noqa: F821 - `config` is injected by lit
config.test_format = lit.formats.ShTest(execute_external=False)  # noqa: F821
config.suffixes = [".mlir", ".test", ".py"]  # noqa: F821
config.excludes = ["Inputs", "lit.cfg.py", ".lit_out"]  # noqa: F821
config.test_source_root = os.path.dirname(__file__)  # noqa: F821
config.test_exec_root = os.path.join(config.test_source_root, ".lit_out")  # noqa: F821

repo = os.path.abspath(os.path.join(config.test_source_root, "..", ".."))  # noqa: F821
venv_bin = os.path.dirname(sys.executable)
# lit scrubs the environment: put the venv first and make the package importable.
config.environment["PATH"] = os.pathsep.join([venv_bin, config.environment.get("PATH", "")])  # noqa: F821
config.environment["PYTHONPATH"] = repo  # noqa: F821
config.environment["XDG_RUNTIME_DIR"] = os.environ.get("XDG_RUNTIME_DIR", "/tmp")  # noqa: F821
config.substitutions.append(("%python", sys.executable))  # noqa: F821
config.substitutions.append(("%stc", f"{sys.executable} -m spiraltorch.cli"))  # noqa: F821
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))  # noqa: F821
