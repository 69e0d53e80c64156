"""The README's shell examples do what the README says, run as written against a real server."""

from __future__ import annotations

import json
import re
import subprocess

from tests.support.server import REPO, run_server


def shell_block_with(text: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    return next(block for block in blocks if text in block)


def test_the_cancel_example_cancels_a_running_run(tmp_path) -> None:
    script = shell_block_with("/cancel")
    assert "&" in script and "wait" in script  # the stream runs in the background
    # The default pace of the offline writer, as `make run` serves it.
    with run_server(tmp_path, offline_token_delay_ms=15) as server:
        script = script.replace("localhost:8000", server.url.removeprefix("http://"))
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # (the cancel's answer has no newline: the stream's next line may follow it on the same line)
    assert '{"cancelled":true,' in done.stdout.replace(" ", "")
    events = [json.loads(line[6:]) for line in done.stdout.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events][-2:] == ["error", "done"]
    assert events[-2]["data"]["error"] == "Cancelled" and events[-1]["data"]["status"] == "cancelled"
