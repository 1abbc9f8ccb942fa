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


DRILL = ROOT / "tools" / "drill"


def _calls(source: str) -> list[ast.Call]:
    return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)]


def _named(call: ast.Call, name: str) -> bool:
    """`name(...)` or `module.name(...)`."""
    func = call.func
    return (isinstance(func, ast.Name) and func.id == name) or (
        isinstance(func, ast.Attribute) and func.attr == name
    )


def unguarded_starts(source: str) -> list[int]:
    """Lines of the Popen calls whose first argument is not a `dying_with_parent(...)` call."""
    lines = []
    for call in _calls(source):
        if not _named(call, "Popen"):
            continue
        keyword = next((k.value for k in call.keywords if k.arg == "args"), None)
        command = call.args[0] if call.args else keyword
        if not (isinstance(command, ast.Call) and _named(command, dying_with_parent.__name__)):
            lines.append(call.lineno)
    return lines


def _drill_sources() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(DRILL.glob("*.py"))}


def test_every_drill_process_is_started_to_die_with_its_parent():
    sources = _drill_sources()
    popens = [call for source in sources.values() for call in _calls(source) if _named(call, "Popen")]
    assert popens, "no Popen call found in tools/drill: the check would be vacuous"
    assert {name: lines for name, source in sources.items() if (lines := unguarded_starts(source))} == {}


def test_a_bare_popen_is_found():
    """The check above on the broken form: the parent above started plainly, and with `args=`."""
    assert unguarded_starts(PARENT) == []
    bare = PARENT.replace('dying_with_parent(["sleep", "60"])', '["sleep", "60"]')
    assert unguarded_starts(bare) == [4]
    assert unguarded_starts("import subprocess\nsubprocess.Popen(args=['sleep', '60'])\n") == [2]


def test_no_drill_process_is_started_with_a_preexec_fn():
    starts = [
        f"{name}:{call.lineno}"
        for name, source in _drill_sources().items()
        for call in _calls(source)
        if any(k.arg == "preexec_fn" for k in call.keywords)
    ]
    assert starts == []
