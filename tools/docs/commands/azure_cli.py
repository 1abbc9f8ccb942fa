"""`az` commands, parsed by azure-cli's own command table and argparse parser, offline.

azure-cli pins its own azure-core, azure-mgmt-* and msal, so it lives in a venv of its own
(build/azure-cli-venv, `make azure-cli`, pinned in tools/azure-cli.lock). One parser process
(azure_cli_parser.py, run by that venv's python) serves every command of a session, one JSON line each way:
loading azure-cli costs seconds, a parse a few milliseconds. It runs with a throwaway config directory and
telemetry off, so it neither reads a login nor writes to ~/.azure.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from refarch import ROOT

VENV = ROOT / "build" / "azure-cli-venv"
LOCK = ROOT / "tools" / "azure-cli.lock"
PARSER = Path(__file__).resolve().parent / "azure_cli_parser.py"


class AzureCliMissing(RuntimeError):
    pass


def version() -> str:
    """The azure-cli version the runbooks name and the parser checks against: the lock's pin."""
    for line in LOCK.read_text().splitlines():
        if line.startswith("azure-cli=="):
            return line.split("==", 1)[1].strip()
    raise ValueError(f"{LOCK} pins no azure-cli")


def _python() -> Path:
    """azure-cli's venv's python, or AzureCliMissing saying how to make the venv."""
    python = VENV / "bin" / "python"
    if not python.exists():
        raise AzureCliMissing(f"{python} is missing: run `make azure-cli` (azure-cli's own venv)")
    return python


def package(path: str) -> Path:
    """The directory of a package installed in azure-cli's venv (e.g. `azure/mgmt/cosmosdb`, the SDK its
    commands call), or AzureCliMissing: the venv or the package is missing."""
    _python()
    found = sorted((VENV / "lib").glob(f"python*/site-packages/{path}"))
    if not found:
        raise AzureCliMissing(f"{VENV} has no {path}: run `make azure-cli` (azure-cli's own venv)")
    return found[0]


class _Parser:
    def __init__(self) -> None:
        python = _python()
        self.config = tempfile.mkdtemp(prefix="azure-cli-config-")
        environment = {
            **os.environ,
            "AZURE_CONFIG_DIR": self.config,
            "AZURE_CORE_COLLECT_TELEMETRY": "no",
            "AZURE_CORE_ONLY_SHOW_ERRORS": "yes",
        }
        self.process = subprocess.Popen(
            [str(python), str(PARSER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
        )
        atexit.register(self.close)

    def problem(self, args: list[str]) -> str | None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(args) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(
                f"the azure-cli parser exited ({self.process.wait()}) on `az {' '.join(args)}`"
            )
        return json.loads(line)["problem"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        shutil.rmtree(self.config, ignore_errors=True)


@cache
def _parser() -> _Parser:
    return _Parser()


@cache
def _problem(args: tuple[str, ...]) -> str | None:
    return _parser().problem(list(args))


def validate(argv: list[str]) -> list[str]:
    """Every problem azure-cli's parser finds in `az ...` (none when it parses)."""
    problem = _problem(tuple(argv[1:]))
    return [f"azure-cli {version()}: {problem}"] if problem else []
