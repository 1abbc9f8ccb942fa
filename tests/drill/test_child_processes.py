"""The drill's servers die with the process that started them, and are started without a Python preexec_fn
(a forked child running Python between fork and exec can be aborted by gRPC's fork handlers when the Pulumi
SDK is loaded in the same test process: grpc/grpc#43055)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

from refarch import ROOT
from tools.drill.servers import dying_with_parent

# A parent that starts `sleep` the drill's way, prints the child's pid, and exits at once.
PARENT = """
from subprocess import DEVNULL, Popen
from tools.drill.servers import dying_with_parent
child = Popen(dying_with_parent(["sleep", "60"]), stdout=DEVNULL, stderr=DEVNULL)
print(child.pid, flush=True)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_server_dies_with_the_process_that_started_it():
    out = subprocess.run(
        [sys.executable, "-c", PARENT], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    )
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not alive(pid), "the child outlived its parent"
    finally:
        if alive(pid):
            os.kill(pid, 9)


def test_without_the_prefix_the_child_outlives_its_parent():
    """The check above on the broken form: a child started plainly survives its parent."""
    parent = PARENT.replace('dying_with_parent(["sleep", "60"])', '["sleep", "60"]')
    out = subprocess.run(
        [sys.executable, "-c", parent], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    )
    pid = int(out.stdout.split()[0])
    try:
        time.sleep(0.5)
        assert alive(pid)
    finally:
        os.kill(pid, 9)


def test_no_drill_process_is_started_with_a_preexec_fn():
    starts = []
    for path in sorted((ROOT / "tools" / "drill").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == "preexec_fn" for k in node.keywords):
                starts.append(f"{path.name}:{node.lineno}")
    assert starts == []
    assert dying_with_parent(["x"])[-1] == "x"
