"""Run the statelessness rules on any CloudFormation template (no CDK needed):

    python -m refarch.rules template.json [--not-production] [--health-path /health] [--evidence out.json]

Prints one line per rule (pass, fail with the resource and property, or not applicable with the reason);
exits 1 on any error-level failure, 2 on a template it cannot read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from refarch.rules import FAIL, NOT_APPLICABLE, Context, errors, evaluate, evidence, write_evidence
from refarch.rules.service_facts import HEALTH_PATH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m refarch.rules",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("template", type=Path, help="a CloudFormation template in JSON")
    parser.add_argument("--not-production", action="store_true", help="skip the production-only checks")
    parser.add_argument("--health-path", default=HEALTH_PATH, help="the service's shallow health path")
    parser.add_argument("--evidence", type=Path, help="also write every result, with its evidence, as JSON")
    args = parser.parse_args(argv)
    try:
        template = json.loads(args.template.read_text())
    except (OSError, ValueError) as exc:
        print(f"{args.template}: not a readable JSON CloudFormation template ({exc})", file=sys.stderr)
        return 2
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        print(f"{args.template}: no Resources section; expected a CloudFormation template", file=sys.stderr)
        return 2
    context = Context(production=not args.not_production, health_path=args.health_path)
    results = evaluate("aws", template, context)
    for result in results:
        if result.status == NOT_APPLICABLE:
            print(f"{result.rule}: not applicable ({result.reason})")
        elif result.status == FAIL:
            for check in result.violations:
                print(f"{result.rule}: {result.severity.upper()} {check.describe()}")
        else:
            print(f"{result.rule}: pass ({len(result.checks)} checks)")
    if args.evidence:
        write_evidence(args.evidence, evidence("aws", args.template.stem, context, results))
    return 1 if errors(results) else 0


if __name__ == "__main__":
    sys.exit(main())
