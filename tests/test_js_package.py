"""The JS client is packable: ``npm pack`` in clients/js makes a tarball with its types, and an
empty project that installs the tarball imports it (Node, ES modules)."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

from tests.support.server import REPO

CLIENT = REPO / "clients" / "js"


def test_npm_pack_makes_a_tarball_an_empty_project_installs_and_imports(tmp_path: Path) -> None:
    packed = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(tmp_path)],
        cwd=CLIENT,
        check=True,
        capture_output=True,
        text=True,
    )
    (info,) = json.loads(packed.stdout)
    tarball = tmp_path / info["filename"]
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"package/stagecast.js", "package/stagecast.d.ts", "package/sse.js", "package/state.js"} <= names
    assert any(name.startswith("package/vendor/") for name in names)
    assert not any(name.startswith("package/test/") for name in names)

    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "empty", "private": True, "type": "module"}))
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--offline", str(tarball)],
        cwd=project,
        check=True,
        capture_output=True,
    )
    installed = project / "node_modules" / "@stagecast" / "client"
    manifest = json.loads((installed / "package.json").read_text())
    assert (installed / manifest["types"]).is_file()
    assert manifest["exports"]["."]["types"] == "./stagecast.d.ts"

    script = (
        "import { stream, watchRun, resume, initialState } from '@stagecast/client';"
        "console.log(JSON.stringify([typeof stream, typeof watchRun, typeof resume, initialState().status]));"
    )
    imported = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    )
    assert json.loads(imported.stdout) == ["function", "function", "function", "idle"]
