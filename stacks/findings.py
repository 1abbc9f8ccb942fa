"""Reads what cdk-nag, cfn-lint and checkov found in a synthesized cloud assembly, per stack."""

from __future__ import annotations

import json
import os
import platform
import re
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


class PluginCrashed(RuntimeError):
    """A validation plugin raised instead of reporting; its silence says nothing about the templates."""


def nag_findings(assembly: Path) -> list[NagFinding]:
    """cdk-nag v3 reports through CDK's policy validation report, one entry per violating resource."""
    report = assembly / "policy-validation-report.json"
    if not report.exists():
        return []
    findings = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        # A plugin that raised reports no violations at all: that is no pass, so it must not count as one.
        summary = plugin.get("summary", {})
        if error := summary.get("metadata", {}).get("error"):
            raise PluginCrashed(f"validation plugin {summary.get('pluginName')} did not run: {error}")
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


# AWS Control Tower's proactive controls as cfn-guard rules, with the cfn-guard binary, from npm.
CFN_GUARD_PACKAGE = (
    Path(__file__).resolve().parent.parent / "node_modules" / "@cdklabs" / "cdk-validator-cfnguard"
)
# Template Metadata key under which a resource lists the controls it is acknowledged to fail (cfn-guard's
# Control Tower rules have no suppression of their own; `control_findings` subtracts these).
CONTROLS_ACKNOWLEDGED = "refarch:controls-acknowledged"
_CONTROL_ID = re.compile(r"\[(CT\.[A-Z0-9]+\.PR\.[0-9]+)\]")


def _resources_in(node: object, found: set[str]) -> set[str]:
    """Logical ids in every `/Resources/<id>/...` path of a cfn-guard report node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "path" and isinstance(value, str) and value.startswith("/Resources/"):
                found.add(value.split("/")[2])
            else:
                _resources_in(value, found)
    elif isinstance(node, list):
        for value in node:
            _resources_in(value, found)
    return found


def control_findings(templates: list[Path], *, acknowledged: bool = True) -> dict[str, set[tuple[str, str]]]:
    """(control id, logical id) of every Control Tower proactive control a resource fails, per template
    file stem; with `acknowledged`, minus those the resource's Metadata acknowledges."""
    findings: dict[str, set[tuple[str, str]]] = {
        template.name.removesuffix(".template.json"): set() for template in templates
    }
    package = Path(os.environ.get("CFN_GUARD_PACKAGE", CFN_GUARD_PACKAGE))
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[
        platform.machine().lower()
    ]
    system = {"Linux": "ubuntu", "Darwin": "macos"}[platform.system()]
    guard = package / "bin" / system / machine / "cfn-guard"
    if not guard.exists():
        raise RuntimeError(f"cfn-guard is not installed at {guard}: run `make setup` (npm ci)")
    for template in templates:
        result = subprocess.run(
            [
                str(guard),
                "validate",
                "--rules",
                str(package / "rules" / "control-tower" / "cfn-guard"),
                "--data",
                str(template),
                "--show-summary",
                "none",
                "--output-format",
                "json",
                "--structured",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        # Exit code 19 means non-compliant; anything else but 0 means cfn-guard itself failed.
        if result.returncode not in (0, 19):
            raise RuntimeError(f"cfn-guard failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")
        stem = template.name.removesuffix(".template.json")
        resources = json.loads(template.read_text())["Resources"]
        for report in json.loads(result.stdout or "[]"):
            for rule in report.get("not_compliant", []):
                control = _CONTROL_ID.search(json.dumps(rule))
                if control is None:
                    raise RuntimeError(
                        f"cfn-guard rule {rule['Rule']['name']} names no Control Tower control"
                    )
                for resource in _resources_in(rule, set()):
                    accepted = resources[resource].get("Metadata", {}).get(CONTROLS_ACKNOWLEDGED, {})
                    if not (acknowledged and control.group(1) in accepted):
                        findings[stem].add((control.group(1), resource))
    return findings


def templates_of(assembly: Path) -> list[Path]:
    return sorted(assembly.glob("*.template.json"))
