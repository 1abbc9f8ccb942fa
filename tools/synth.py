"""`make synth`: synthesize every environment with the CDK CLI (cdk-nag and the statelessness pack run as
validation plugins), lint every template with cfn-lint, scan it with checkov and AWS Control Tower's proactive
controls (cfn-guard), then preview every Pulumi stack offline (`tools.preview`, which runs the statelessness
rules on each inventory). Prints one line per stack and writes the rules' evidence to build/evidence/;
fails on any nag, statelessness or lint error, any unacknowledged checkov or control finding, a validation
plugin that did not run, or any stack that cannot be previewed."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from refarch import ROOT
from stacks.findings import (
    PluginCrashed,
    checkov_findings,
    control_findings,
    lint_findings,
    nag_findings,
    templates_of,
)
from tools import preview, stateless_evidence


def resource_count(template: Path) -> int:
    return len(json.loads(template.read_text()).get("Resources", {}))


def synth_aws(region: str | None, assembly: Path) -> int:
    shutil.rmtree(assembly, ignore_errors=True)
    cdk = shutil.which("cdk") or "cdk"
    # No region given: cdk.json's, as a plain `cdk synth` would use. The CLI synthesizes every stack.
    command = [cdk, "synth", "--quiet", "--output", str(assembly)]
    if region:
        command += ["-c", f"region={region}"]
    synth = subprocess.run(command, cwd=ROOT, check=False)
    templates = templates_of(assembly)
    if synth.returncode != 0 and not templates:
        print(f"aws: cdk synth failed (exit {synth.returncode}) before writing any template", file=sys.stderr)
        return 1
    try:
        findings = nag_findings(assembly)
    except PluginCrashed as crash:
        print(f"aws: {crash}", file=sys.stderr)
        return 1
    nag = Counter((finding.stack, finding.severity) for finding in findings if not finding.stateless)
    stateless = Counter(
        finding.stack for finding in findings if finding.stateless and finding.severity == "error"
    )
    for finding in findings:
        if finding.stateless and finding.severity == "error":
            print(f"aws {finding.stack}: {finding.rule} {finding.path}", file=sys.stderr)
    lint = lint_findings(templates)
    checkov = checkov_findings(templates)
    controls = control_findings(templates)
    failed = synth.returncode != 0
    for template in templates:
        stack = template.name.removesuffix(".template.json")
        errors, warnings = nag[(stack, "error")], nag[(stack, "warning")]
        lint_errors, lint_warnings = lint[stack]["error"], lint[stack]["warning"]
        checkov_failed = len(checkov[stack])
        controls_failed = len(controls[stack])
        failed |= bool(errors or lint_errors or stateless[stack] or checkov_failed or controls_failed)
        stateless_evidence.write(template)
        print(
            f"aws {stack}: resources={resource_count(template)} nag_errors={errors} nag_warnings={warnings} "
            f"stateless_errors={stateless[stack]} lint_errors={lint_errors} lint_warnings={lint_warnings} "
            f"checkov_failed={checkov_failed} controls_failed={controls_failed}"
        )
        for tool, found in (("checkov", checkov[stack]), ("control", controls[stack])):
            for check, resource in sorted(found):
                print(f"  {tool} {check} on {resource}", file=sys.stderr)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--region", help="AWS region to synthesize for (default: cdk.json's `region`)")
    parser.add_argument("--output", default=str(ROOT / "cdk.out"), help="cloud assembly directory")
    args = parser.parse_args()
    aws = synth_aws(args.region, Path(args.output))
    # The Pulumi projects: an offline preview of every stack, written to build/inventory/.
    pulumi = preview.main([])
    return aws or pulumi


if __name__ == "__main__":
    sys.exit(main())
