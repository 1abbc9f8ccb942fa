"""The GCP restore-store runbook as the restore tests read and run it: the prod runbook rendered from the
offline inventory, its steps, and its commands run in bash against stand-in `gcloud`, `pulumi` and `git`
functions that log their calls; an inventory with one input changed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from refarch.inventory import Inventory
from tests.docs.runbook_harness import assignments, quote, run_bash
from tools.docs.gcp.facts import facts
from tools.docs.gcp.runbooks import runbooks

STACK = "--stack prod --cwd pulumi/gcp"
RESTORED, PREVIOUS = "prod-items-restored", "prod-items-restored-2"
GCLOUD = 'gcloud() { echo "gcloud $*" >>"$LOG"; }'


def _book(docs_inputs):
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    return model, next(b for b in runbooks(facts("prod", model, spec)) if b.scenario == "restore-store")


def _own(model) -> str:
    return model.only("gcp:firestore/database:Database").get("name")


def _run(tmp_path: Path, stubs: str, command: str, **env: str) -> tuple[str, str]:
    """Run a rendered command in bash with stand-in programs; returns (stdout, the stand-ins' call log)."""
    log = tmp_path / "calls.log"
    log.touch()
    script = f"LOG={quote(log)}\nsleep() {{ :; }}\n{stubs}\n{assignments(env)}{command}\n"
    result = run_bash(script, timeout=30)
    return result.stdout, log.read_text()


def _step(steps, text: str):
    [step] = [step for step in steps if text in step.command]
    return step


def _stack(served: str | None, draining: str | None) -> str:
    """Stand-ins: the stack output `firestoreDatabase` is `served` (None: the output cannot be read), the
    draining setting `draining` (None: not set, as `pulumi config get` says); git and gcloud succeed."""

    def answer(value: str | None, error: str) -> str:
        return f"echo {value}" if value is not None else f'echo "{error}" >&2; return 255'

    return (
        'pulumi() { echo "pulumi $*" >>"$LOG"; case "$1 $2 $3" in\n'
        f'  "stack output firestoreDatabase") {answer(served, "error: could not reach the backend")};;\n'
        f'  "config get itemsDatabaseDraining") {answer(draining, "error: configuration key not found")};;\n'
        "esac; }\n"
        'git() { echo "git $*" >>"$LOG"; }\n' + GCLOUD
    )


def mutated(model: Inventory, type_: str, path: str, value) -> Inventory:
    """The inventory with one input of the only resource of `type_` changed (a dotted path)."""
    resources = []
    for resource in model:
        if resource.type == type_:
            inputs = dict(resource.inputs)
            head, _, tail = path.partition(".")
            inputs[head] = {**inputs[head], tail: value} if tail else value
            resource = replace(resource, inputs=inputs)
        resources.append(resource)
    return Inventory(resources)
