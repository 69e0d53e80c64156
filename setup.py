"""The package list: every package under app/, installed under the import name ``stagecast``
(``package-dir`` in pyproject.toml maps ``stagecast`` to app/). Everything else is in
pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        "stagecast",
        *(f"stagecast.{name}" for name in find_namespace_packages("app", exclude=["*__pycache__*"])),
    ]
)
