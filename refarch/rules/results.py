"""What a rule's evaluation produces: the checks it made, each naming a resource and a property value.

A rule passes only when it checked something and every check held; a rule that found nothing to check is
not applicable, with the reason, never a pass. Plain data, standard library only: the cdk-nag pack, the
Pulumi policy pack and `make synth` all read the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from refarch.rules.service_facts import HEALTH_PATH

if TYPE_CHECKING:
    from refarch.rules.accepted import Acceptance

# An accepted rule failed only where the catalogue of accepted findings (refarch/rules/accepted.py) says why.
PASS, FAIL, NOT_APPLICABLE, ACCEPTED = "pass", "fail", "not_applicable", "accepted"


@dataclass(frozen=True)
class Context:
    """What a model cannot say about itself: whether it is a production environment (the strictest rules
    apply there) and the service's shallow health path."""

    production: bool = True
    health_path: str = HEALTH_PATH


@dataclass(frozen=True)
class Check:
    resource: str
    property: str
    value: Any
    ok: bool
    expected: str
    # The resource's type (CloudFormation or Pulumi), filled in from the model after the evaluation.
    type: str | None = None
    # A failed check the catalogue of accepted findings names, with its reason.
    accepted: Acceptance | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "resource": self.resource,
            "type": self.type,
            "property": self.property,
            "value": self.value,
            "ok": self.ok,
            "expected": self.expected,
        }
        return data if self.accepted is None else {**data, **self.accepted.to_json()}

    def describe(self) -> str:
        return f"{self.resource}: {self.property} = {self.value!r} (expected {self.expected})"


@dataclass
class Checker:
    """Collects the checks one rule makes; an evaluation calls `expect` once per property it looked at."""

    checks: list[Check] = field(default_factory=list)
    reason: str | None = None

    def expect(self, resource: Any, prop: str, value: Any, ok: bool, expected: str) -> bool:
        """`resource` is a name (a logical id, `nsg/rule`) or an inventory resource, whose type is kept."""
        if isinstance(resource, str):
            self.checks.append(Check(resource, prop, value, bool(ok), expected))
        else:
            self.checks.append(Check(resource.name, prop, value, bool(ok), expected, resource.type))
        return bool(ok)

    def not_applicable(self, reason: str) -> None:
        self.reason = reason


@dataclass(frozen=True)
class Result:
    rule: str
    severity: str
    status: str
    checks: tuple[Check, ...]
    reason: str | None = None

    @property
    def violations(self) -> tuple[Check, ...]:
        """The failed checks nothing accepts."""
        return tuple(check for check in self.checks if not check.ok and check.accepted is None)

    @property
    def accepted(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok and check.accepted is not None)

    @property
    def is_error(self) -> bool:
        return self.status == FAIL and self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule, "severity": self.severity, "status": self.status}
        if self.status == NOT_APPLICABLE:
            data["reason"] = self.reason
        else:
            data["evidence"] = [check.to_json() for check in self.checks if check.ok]
            data["violations"] = [check.to_json() for check in self.violations]
            data["accepted"] = [check.to_json() for check in self.accepted]
        return data


def result_of(rule_id: str, severity: str, checker: Checker, looks_for: str) -> Result:
    if not checker.checks:
        reason = checker.reason or f"found no {looks_for} to check"
        return Result(rule_id, severity, NOT_APPLICABLE, (), reason)
    failed = [check for check in checker.checks if not check.ok]
    unaccepted = [check for check in failed if check.accepted is None]
    status = FAIL if unaccepted else ACCEPTED if failed else PASS
    return Result(rule_id, severity, status, tuple(checker.checks))


# One cloud's evaluation of one rule: reads the model, records checks.
Evaluation = Callable[[Any, Context, Checker], None]


def errors(results: Iterable[Result]) -> list[Result]:
    return [result for result in results if result.is_error]
