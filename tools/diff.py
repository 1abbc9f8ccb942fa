"""`make diff`: what a spec or code change does to every stack, offline, before anything is deployed.

Each AWS environment is synthesized in-process and its template compared with the committed, reviewed
snapshot (tests/aws/__snapshots__); each Azure and GCP stack is previewed under mocks and its reviewed
values (tools/reviewed.py) compared with theirs. One line per changed value:

    aws dev: ~ AWS::AutoScaling::AutoScalingGroup FleetAsg... MaxSize 3 -> 4
    gcp prod: + gcp:compute/firewall:Firewall allow-new

    python -m tools.diff                    every cloud, every stack
    python -m tools.diff --cloud aws -c spec.dev.capacity.max=4

After a deliberate change, update the snapshots (`pytest tests/<cloud> --snapshot-update`) so the next
diff starts from what was reviewed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from refarch.errors import SpecError
from refarch_pulumi.offline import StackConfigError, projects
from tools.reviewed import normalised_template, reviewed_view, snapshot_path

MISSING = object()
# Longer values are cut in the middle: the line should say what changed, not reprint a policy.
SHOWN_CHARACTERS = 100


def shown(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    half = SHOWN_CHARACTERS // 2
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[:half]}...{text[-half:]}"


def value_changes(before: Any, after: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, before, after) for every leaf that differs; lists of different length change as a whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            child = f"{path}.{key}" if path else str(key)
            yield from value_changes(before.get(key, MISSING), after.get(key, MISSING), child)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            yield from value_changes(old, new, f"{path}.{index}")
    elif before != after:
        yield path, before, after


def template_changes(before: dict, after: dict) -> list[str]:
    """Resource-level changes between two CloudFormation templates, then outputs and the rest."""
    lines = []
    old, new = before.get("Resources", {}), after.get("Resources", {})
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            lines.append(f"- {old[name]['Type']} {name}")
        elif name not in old:
            lines.append(f"+ {new[name]['Type']} {name}")
        elif old[name] != new[name]:
            for path, was, now in value_changes(old[name], new[name]):
                field = path.removeprefix("Properties.")
                lines.append(f"~ {new[name]['Type']} {name} {field} {shown(was)} -> {shown(now)}")
    rest = {key: value for key, value in before.items() if key != "Resources"}
    for path, was, now in value_changes(
        rest, {key: value for key, value in after.items() if key != "Resources"}
    ):
        lines.append(f"~ {path} {shown(was)} -> {shown(now)}")
    return lines


def inventory_changes(before: dict, after: dict) -> list[str]:
    """Changes between two reviewed inventories (`{type: {name: {path: value}}}`)."""
    lines = []
    for type_ in sorted(before.keys() | after.keys()):
        old, new = before.get(type_, {}), after.get(type_, {})
        for name in sorted(old.keys() | new.keys()):
            if name not in new:
                lines.append(f"- {type_} {name}")
            elif name not in old:
                lines.append(f"+ {type_} {name}")
            else:
                for path, was, now in value_changes(old[name], new[name]):
                    lines.append(f"~ {type_} {name} {path} {shown(was)} -> {shown(now)}")
    return lines


def aws_templates(overrides: Mapping[str, Any]) -> dict[str, dict]:
    from stacks.app_builder import build_app, new_app
    from stacks.service_stack import ServiceStack, stack_name

    with tempfile.TemporaryDirectory() as outdir:
        app = build_app(new_app(outdir=outdir), overrides=overrides, nag=False)
        app.synth()
        environments = [child.spec.name for child in app.node.children if isinstance(child, ServiceStack)]
        return {
            name: json.loads((Path(outdir) / f"{stack_name(name)}.template.json").read_text())
            for name in environments
        }


def report(cloud: str, stack: str, lines: list[str]) -> None:
    if not lines:
        print(f"{cloud} {stack}: no changes")
    for line in lines:
        print(f"{cloud} {stack}: {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cloud", choices=("aws", "azure", "gcp"), help="one cloud; default: all")
    parser.add_argument(
        "-c",
        dest="context",
        action="append",
        default=[],
        metavar="spec.<env>.<field>=<value>",
        help="an AWS spec override, as `cdk synth -c` takes it (JSON values are parsed)",
    )
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.context:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        overrides[key.removeprefix("spec.")] = value
    try:
        if args.cloud in (None, "aws"):
            for stack, template in aws_templates(overrides).items():
                reviewed = json.loads(snapshot_path("aws", stack).read_text())
                report("aws", stack, template_changes(reviewed, normalised_template(template)))
        for pulumi_project in projects():
            if args.cloud not in (None, pulumi_project.cloud):
                continue
            for stack in pulumi_project.stacks():
                reviewed = json.loads(snapshot_path(pulumi_project.cloud, stack).read_text())
                current = reviewed_view(pulumi_project.cloud, pulumi_project.preview(stack))
                report(pulumi_project.cloud, stack, inventory_changes(reviewed, current))
    except (SpecError, StackConfigError) as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
