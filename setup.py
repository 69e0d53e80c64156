"""What pyproject.toml cannot say:

- the package list: every package under app/, installed under the import name ``stagecast``
  (``package-dir`` in pyproject.toml maps ``stagecast`` to app/);
- the JS client the pages import (the files clients/js/package.json publishes), copied into
  the wheel as ``stagecast/web/client`` (app/web/client_files.py serves them from there, or
  from the checkout when there is no copy, as in an editable install).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

CLIENT = Path(__file__).resolve().parent / "clients" / "js"


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not CLIENT.is_dir():
            return
        target = Path(self.build_lib) / "stagecast" / "web" / "client"
        for name in json.loads((CLIENT / "package.json").read_text())["files"]:
            source = CLIENT / name
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(
    packages=[
        "stagecast",
        *(f"stagecast.{name}" for name in find_namespace_packages("app", exclude=["*__pycache__*"])),
    ],
    cmdclass={"build_py": BuildPy},
)
