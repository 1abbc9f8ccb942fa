"""Offline preview of the Pulumi projects: run each stack under mocks, write its inventory, one line each.

    python -m tools.preview                 every project, every stack
    python -m tools.preview --cloud azure --stack prod

Nothing here needs the Pulumi CLI, a provider plugin or credentials. The inventory
(`build/inventory/<cloud>-<stack>.json`) lists what `pulumi up` would register, secrets masked; the
statelessness rules run on it (`stateless_errors=`, and `stateless_accepted=` for the findings
refarch/rules/accepted.py accepts; evidence in `build/evidence/<cloud>-<stack>.json`).
"""

from __future__ import annotations

import argparse
import sys

from refarch import ROOT
from refarch.errors import SpecError
from refarch.inventory import masked_secrets
from refarch_pulumi.offline import PulumiProject, StackConfigError, project, projects
from tools import stateless_evidence


def preview_stack(pulumi_project: PulumiProject, stack: str) -> bool:
    try:
        inventory = pulumi_project.preview(stack)
    except (SpecError, StackConfigError) as exc:
        print(f"{pulumi_project.cloud} {stack}: {exc}", file=sys.stderr)
        return False
    path = pulumi_project.inventory_path(stack)
    inventory.write(path)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    counts = stateless_evidence.for_inventory(pulumi_project.cloud, stack, inventory)
    # Accepted findings stay on the line: accepted is not passed (refarch/rules/accepted.py says why).
    counted = "" if counts is None else f" stateless_errors={counts[0]} stateless_accepted={counts[1]}"
    print(
        f"{pulumi_project.cloud} {stack}: resources={len(inventory) - len(inventory.components())} "
        f"components={len(inventory.components())} types={len(inventory.types())} "
        f"secrets_masked={len(masked_secrets(inventory))}{counted} inventory={shown}"
    )
    return counts is None or counts[0] == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cloud", help="one project (azure, gcp); default: all")
    parser.add_argument("--stack", help="one stack (dev, staging, prod); default: all of the project's")
    args = parser.parse_args(argv)
    try:
        chosen = [project(args.cloud)] if args.cloud else projects()
    except StackConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    ok = True
    for pulumi_project in chosen:
        for stack in [args.stack] if args.stack else pulumi_project.stacks():
            ok &= preview_stack(pulumi_project, stack)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
