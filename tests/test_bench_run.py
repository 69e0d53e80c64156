"""bench/run.py on a fresh clone: it installs bench/requirements.txt before importing what needs
it, and leaves docs/benchmarks.md alone unless asked (``--docs``). No benchmark runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from bench import run

REPO = Path(__file__).resolve().parents[1]

# A fresh clone's venv: the project's packages, none of bench/requirements.txt. The runner's
# installer is replaced by one that records it was reached and stops the run there.
_WITHOUT_BENCH_REQUIREMENTS = textwrap.dedent(
    """
    import sys

    MISSING = {"psutil", "fastapi", "sse_starlette", "uvicorn", "uvloop", "httptools"}

    class Missing:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in MISSING:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Missing())
    for name in list(sys.modules):
        if name.partition(".")[0] in MISSING:
            del sys.modules[name]

    sys.path.insert(0, sys.argv[1])
    from bench import run

    def install(keys):
        print("installing for", ",".join(keys))
        raise SystemExit(0)

    run.ensure_requirements = install
    sys.argv = ["bench/run.py", "--quick", "--contenders", "stagecast,fastapi"]
    run.main()
    raise SystemExit("main() returned without installing")
    """
)


def test_requirements_are_installed_before_anything_imports_them() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_BENCH_REQUIREMENTS, str(REPO)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "installing for stagecast,fastapi" in done.stdout


def test_the_docs_are_written_only_with_docs_and_not_after_a_failed_check() -> None:
    assert run.docs_written(run.parse_args(["--quick"]), regressed=False) is False
    assert run.docs_written(run.parse_args(["--quick", "--docs"]), regressed=False) is True
    assert run.docs_written(run.parse_args(["--quick", "--docs"]), regressed=True) is False
    assert run.docs_written(run.parse_args(["--quick", "--docs", "--accept"]), regressed=True) is True
