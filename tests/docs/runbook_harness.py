"""The runbook tests' harness: a rendered replace-one-instance runbook (generated, committed or frozen in
data/), its sections, mutations of it and the check that each is caught, and its commands run in bash
against stub CLIs that answer as the cloud would and log their calls."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from refarch import ROOT

SCENARIO = "replace-one-instance"
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
# What a stubbed shell sees of the machine when it does not inherit the test's environment.
SYSTEM_PATH = "/usr/bin:/bin"


def section(text: str, title: str) -> str:
    """The body of a runbook's `## title` section, up to the next section."""
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def runbook(documents: dict[str, str], cloud: str, environment: str) -> str:
    return documents[f"{cloud}/{environment}/{SCENARIO}.md"]


def runbooks(documents: dict[str, str], cloud: str) -> dict[str, str]:
    """Every environment's rendered runbook of the cloud, by document path."""
    chosen = {
        p: t for p, t in documents.items() if p.startswith(f"{cloud}/") and p.endswith(f"/{SCENARIO}.md")
    }
    assert chosen
    return chosen


def committed(cloud: str, environment: str) -> str:
    """The runbook as committed (the drift test keeps it equal to a fresh generation)."""
    return (ROOT / "runbooks" / cloud / environment / f"{SCENARIO}.md").read_text()


def frozen(name: str) -> str:
    """A runbook as it was rendered before a round of fixes, kept beside the tests in data/ (data/README.md
    names the commit each was rendered at)."""
    return (Path(__file__).parent / "data" / name).read_text()


def rendered_at(commit: str, cloud: str, environment: str, scenario: str = SCENARIO) -> str:
    """The frozen runbook `scenario` (replace-one-instance unless named) of `cloud`/`environment` as rendered
    at `commit`."""
    return frozen(f"{cloud}-{environment}-{scenario}.at-{commit}.md")


def every_runbook(generated, problems_of: Callable[[object], Iterable[str]]) -> list[str]:
    """What `problems_of(runbook)` finds in each runbook of each generated stack, one
    `stack/scenario: problem` a finding."""
    return [
        f"{stack.directory}/{runbook.scenario}: {problem}"
        for stack in generated
        for runbook in stack.runbooks
        for problem in problems_of(runbook)
    ]


def in_order(text: str, *parts: str) -> bool:
    """Each of `parts` is in `text` (ValueError for one that is not) and they stand in this order."""
    found = [text.index(part) for part in parts]
    return found == sorted(found)


def mutants(texts: dict[str, str], pattern: str, replacement: str) -> Iterator[tuple[str, str, str]]:
    """Each text with `pattern` substituted: (path, original, mutated)."""
    for path, text in texts.items():
        yield path, text, re.sub(pattern, replacement, text)


def assert_each_mutant_caught(
    texts: dict[str, str], mutation: str, pattern: str, replacement: str, problems: Callable[[str, str], list]
) -> None:
    """Each text mutated by `pattern` -> `replacement` changes and `problems(mutated, path)` finds it."""
    for path, text, broken in mutants(texts, pattern, replacement):
        assert broken != text, (mutation, path)
        assert problems(broken, path), (mutation, path)


def quote(value: object) -> str:
    """`value` as one single-quoted bash word."""
    return "'" + str(value).replace("'", "'\\''") + "'"


def assignments(variables: dict[str, object]) -> str:
    """Shell variable assignments, one a line, as the names block would leave them."""
    return "".join(f"{name}={quote(value)}\n" for name, value in variables.items())


def stub_function(name: str, cases: str, log: Path | None = None) -> str:
    """A bash function standing in for the CLI `name`: it answers per `cases` (a `case "$*"` body) and,
    given `log`, appends each call's arguments to it first."""
    record = f'echo "$*" >>{quote(log)}\n' if log else ""
    return f'{name}() {{ {record}case "$*" in\n{cases}\nesac\n}}\n'


def stub_executable(directory: Path, name: str, script: str) -> Path:
    """An executable `name` in `directory` running `script`; returns the directory, to put first on PATH."""
    directory.mkdir(exist_ok=True)
    stub = directory / name
    stub.write_text(script)
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return directory


def run_bash(
    script: str,
    env: dict[str, str] | None = None,
    *,
    first_on_path: Path | None = None,
    inherit: bool = False,
    **options,
) -> subprocess.CompletedProcess:
    """`script` in a fresh bash. With `first_on_path` (stub executables), PATH is that directory, then the
    test's PATH (`inherit`, with the rest of the test's environment) or the system's; `env` goes last."""
    if first_on_path is not None:
        rest = os.environ["PATH"] if inherit else SYSTEM_PATH
        env = {**(os.environ if inherit else {}), "PATH": f"{first_on_path}:{rest}", **(env or {})}
    return subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, check=False, **options
    )


def logged_calls(log: Path) -> list[str]:
    """The calls a stub logged, one a line, in order (none when it was never called)."""
    return log.read_text().splitlines() if log.exists() else []
