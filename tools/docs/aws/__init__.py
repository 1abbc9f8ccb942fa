"""AWS documents: StackFacts from the synthesized CloudFormation template, six runbooks with `aws` CLI
commands, and the scanners' counts (tools/docs/registry.py says what a cloud module exposes)."""

from tools.docs.aws.facts import facts
from tools.docs.aws.runbooks import runbooks
from tools.docs.aws.scans import scan_counts

__all__ = ["facts", "runbooks", "scan_counts"]
