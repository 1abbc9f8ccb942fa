"""Runs inside the policy pack's own venv (pulumi/policy/venv): builds pulumi-policy's own argument types
from an inventory file and calls every policy's validate, as `pulumi preview --policy-pack` would.

    pulumi/policy/venv/bin/python tests/rules/policy_harness.py '{"production": true}' a.json b.json ...

Prints a JSON object: for each inventory file, the list of [policy, message, urn] it reported."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "pulumi" / "policy"), str(ROOT)]

from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs  # noqa: E402
from stateless_policies import POLICIES  # noqa: E402


def policy_resources(entries):
    made, by_name = [], {}
    for entry in entries:
        urn = f"urn:pulumi:stack::project::{entry['type']}::{entry['name']}"
        options = PolicyResourceOptions(
            protect=False,
            ignore_changes=list((entry.get("options") or {}).get("ignoreChanges", [])),
            delete_before_replace=None,
            aliases=[],
            custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
            additional_secret_outputs=[],
        )
        resource = PolicyResource(
            entry["type"], entry["inputs"], urn, entry["name"], options, None, None, [], {}
        )
        made.append(resource)
        by_name.setdefault(entry["name"], resource)
    for entry, resource in zip(entries, made, strict=True):
        resource.parent = by_name.get(entry.get("parent"))
    return made


def violations_of(path: str, config: dict) -> list:
    resources = policy_resources(json.loads(Path(path).read_text())["resources"])
    violations = []
    for policy in POLICIES:
        args = StackValidationArgs(resources, config)
        policy.validate(
            args, lambda message, urn=None, name=policy.name: violations.append([name, message, urn])
        )
    return violations


def main() -> None:
    config = json.loads(sys.argv[1])
    print(json.dumps({path: violations_of(path, config) for path in sys.argv[2:]}))


main()
