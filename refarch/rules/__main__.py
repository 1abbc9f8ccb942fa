"""Run the statelessness rules on any CloudFormation template (no CDK needed), or on an inventory that
`make synth` wrote for an Azure or GCP stack (build/inventory/<cloud>-<stack>.json):

    python -m refarch.rules template.json [--not-production] [--health-path /health] [--evidence out.json]

Prints one line per rule (pass, fail with the resource and property, not applicable with the reason, or
accepted: on an inventory, a finding refarch/rules/accepted.py accepts, with its reason); exits 1 on any
error-level failure, 2 on a template it cannot read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from refarch.inventory import Inventory, Resource
from refarch.rules import ACCEPTED, FAIL, NOT_APPLICABLE, Context, errors, evaluate, evidence, write_evidence
from refarch.rules.accepted import for_cloud
from refarch.rules.service_facts import HEALTH_PATH


def _model(document: object) -> tuple[str, object] | None:
    if isinstance(document, dict) and isinstance(document.get("Resources"), dict):
        return "aws", document
    if isinstance(document, dict) and isinstance(document.get("resources"), list):
        inventory = Inventory([Resource(**entry) for entry in document["resources"]])
        for prefix, cloud in (("azure-native:", "azure"), ("gcp:", "gcp")):
            if any(resource.type.startswith(prefix) for resource in inventory):
                return cloud, inventory
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m refarch.rules",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("template", type=Path, help="a CloudFormation template in JSON, or an inventory")
    parser.add_argument("--not-production", action="store_true", help="skip the production-only checks")
    parser.add_argument("--health-path", default=HEALTH_PATH, help="the service's shallow health path")
    parser.add_argument("--evidence", type=Path, help="also write every result, with its evidence, as JSON")
    args = parser.parse_args(argv)
    try:
        template = json.loads(args.template.read_text())
    except (OSError, ValueError) as exc:
        print(f"{args.template}: not a readable JSON file ({exc})", file=sys.stderr)
        return 2
    model = _model(template)
    if model is None:
        print(
            f"{args.template}: neither a CloudFormation template (a Resources object) nor an Azure or GCP "
            "inventory (a resources list of azure-native: or gcp: types)",
            file=sys.stderr,
        )
        return 2
    cloud, model = model
    context = Context(production=not args.not_production, health_path=args.health_path)
    results = evaluate(cloud, model, context, accepted=for_cloud(cloud))
    for result in results:
        if result.status == NOT_APPLICABLE:
            print(f"{result.rule}: not applicable ({result.reason})")
        elif result.status in (FAIL, ACCEPTED):
            for check in result.violations:
                print(f"{result.rule}: {result.severity.upper()} {check.describe()}")
            for check in result.accepted:
                print(f"{result.rule}: accepted {check.describe()} ({check.accepted.reason})")
        else:
            print(f"{result.rule}: pass ({len(result.checks)} checks)")
    if args.evidence:
        write_evidence(args.evidence, evidence(cloud, args.template.stem, context, results))
    return 1 if errors(results) else 0


if __name__ == "__main__":
    sys.exit(main())
