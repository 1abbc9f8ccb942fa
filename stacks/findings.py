"""Reads what cdk-nag, cfn-lint and checkov found in a synthesized cloud assembly, per stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NagFinding:
    rule: str
    severity: str
    path: str

    @property
    def stack(self) -> str:
        return self.path.split("/", 1)[0]


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


# checkov lives in a venv of its own (`make checkov`): its pins conflict with the project's lock.
CHECKOV = Path(__file__).resolve().parent.parent / "build" / "checkov-venv" / "bin" / "checkov"


def checkov_findings(templates: list[Path]) -> dict[str, set[tuple[str, str]]]:
    """(check id, logical id) of every failed checkov check, per template file stem. Skips in a resource's
    Metadata.checkov (the acknowledgments) are honoured; they are counted as skipped, not failed."""
    findings: dict[str, set[tuple[str, str]]] = {
        template.name.removesuffix(".template.json"): set() for template in templates
    }
    if not templates:
        return findings
    checkov = Path(os.environ.get("CHECKOV", CHECKOV))
    if not checkov.exists():
        raise RuntimeError(f"checkov is not installed at {checkov}: run `make checkov`")
    files = [argument for template in templates for argument in ("-f", str(template))]
    result = subprocess.run(
        [str(checkov), *files, "--framework", "cloudformation", "--output", "json", "--quiet", "--compact"],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit code 1 means failed checks; anything else but 0 means checkov itself failed.
    if result.returncode not in (0, 1):
        raise RuntimeError(
            f"checkov failed to run (exit {result.returncode}): {result.stderr.strip()[-500:]}"
        )
    reports = json.loads(result.stdout or "[]")
    for report in reports if isinstance(reports, list) else [reports]:
        if report.get("summary", {}).get("parsing_errors"):
            raise RuntimeError(f"checkov could not parse a template: {report['summary']}")
        for check in report.get("results", {}).get("failed_checks", []):
            stem = Path(check["file_path"]).name.removesuffix(".template.json")
            findings[stem].add((check["check_id"], check["resource"].split(".", 1)[1]))
    return findings


def templates_of(assembly: Path) -> list[Path]:
    return sorted(assembly.glob("*.template.json"))
