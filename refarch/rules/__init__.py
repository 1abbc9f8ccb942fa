"""The statelessness rule pack (REL05-BP06 as rules): one catalogue, one evaluation per cloud.

Cloud-neutral: imports no IaC SDK. Enforced by `stacks.stateless_checks` (cdk-nag), `pulumi/policy`
(Pulumi policy pack), `python -m refarch.rules <template.json>` and `make synth`.
"""

from refarch.rules.accepted import ACCEPTANCES, Acceptance
from refarch.rules.catalogue import BY_ID, PACK, RULES, Rule
from refarch.rules.engine import evaluate, evidence, write_evidence
from refarch.rules.results import ACCEPTED, FAIL, NOT_APPLICABLE, PASS, Check, Context, Result, errors

__all__ = [
    "ACCEPTANCES",
    "ACCEPTED",
    "BY_ID",
    "FAIL",
    "NOT_APPLICABLE",
    "PACK",
    "PASS",
    "RULES",
    "Acceptance",
    "Check",
    "Context",
    "Result",
    "Rule",
    "errors",
    "evaluate",
    "evidence",
    "write_evidence",
]
