"""Reads what cdk-nag and cfn-lint found in a synthesized cloud assembly, per stack."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from refarch.rules import PACK


@dataclass(frozen=True)
class NagFinding:
    rule: str
    severity: str
    path: str

    @property
    def stack(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def stateless(self) -> bool:
        """A finding of the statelessness rule pack (stacks/stateless_checks.py) rather than AwsSolutions."""
        return self.rule.startswith(f"{PACK}-")


def nag_findings(assembly: Path) -> list[NagFinding]:
    """cdk-nag v3 reports through CDK's policy validation report, one entry per violating resource."""
    report = assembly / "policy-validation-report.json"
    if not report.exists():
        return []
    findings = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for resource in violation.get("violatingResources", []):
                findings.append(
                    NagFinding(violation["ruleName"], violation["severity"], resource["constructPath"])
                )
    return findings


def lint_findings(templates: list[Path]) -> dict[str, Counter]:
    """cfn-lint levels (Error, Warning, Informational) counted per template file stem."""
    counts: dict[str, Counter] = {
        template.name.removesuffix(".template.json"): Counter() for template in templates
    }
    if not templates:
        return counts
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit codes are a bit mask of levels found (2, 4, 8); bit 1 means cfn-lint itself failed.
    if result.returncode & 1:
        raise RuntimeError(f"cfn-lint failed to run: {result.stderr.strip()}")
    for match in json.loads(result.stdout or "[]"):
        stem = Path(match["Filename"]).name.removesuffix(".template.json")
        counts[stem][match["Level"].lower()] += 1
    return counts


def templates_of(assembly: Path) -> list[Path]:
    return sorted(assembly.glob("*.template.json"))
