"""What the document generators know about one stack, and what a runbook is made of.

Plain, frozen data: each cloud's module (`tools/docs/<cloud>.py`) reads its synthesized model (a
CloudFormation template, a Pulumi inventory) into `StackFacts` and writes six `Runbook`s from them; the
shared templates under `tools/docs/templates/` render both. No value here is typed by hand: every number
comes from the model (or, where the model does not carry it, from the spec, said where it is read).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tools.drill.result import CACHE_FAILURE, REPLACE

SCENARIOS = (
    "replace-one-instance",
    "replace-every-instance",
    "evacuate-zone",
    "cache-primary-failure",
    "restore-store",
    "roll-back-release",
)
SCENARIO_TITLES = {
    "replace-one-instance": "Replace one instance",
    "replace-every-instance": "Replace every instance",
    "evacuate-zone": "Evacuate a zone and return",
    "cache-primary-failure": "Cache primary failure",
    "restore-store": "Restore the store to a point in time",
    "roll-back-release": "Roll back a release",
}
# The failure modes every reliability report covers, in this order.
FAILURE_MODES = ("instance", "zone", "cache primary", "store corruption", "region")
# Edge kinds a diagram draws differently.
EDGE_KINDS = ("network rule", "integration", "role grant", "reference")


@dataclass(frozen=True, kw_only=True)
class Lookup:
    """Sets a shell variable from the stack's outputs or resources: `command` prints the value, `source`
    names the output (or resource) it comes from."""

    variable: str
    command: str
    source: str


# Addresses and numbers reserved for documentation, which never reach anyone: the example domains and
# top-level names of RFC 2606 (sections 2 and 3), and the North American 555-0100 to 555-0199 range kept for
# fictional use (NANPA, "555 NXX assignment guidelines").
DOCUMENTATION_EXAMPLES = re.compile(
    r"(?i)\bexample\.(?:com|net|org)\b|\.(?:example|test|invalid|localhost)\b|\b555[ .-]?01\d\d\b"
)


def escalation_contact(escalation: str | None, source: str, how_to_set: str) -> Step:
    """The first step of every Escalation: whom to page and how, as the stack records it (`source`, its
    output), or plainly that it records nothing and how to set it; no contact is made up. The destination
    is a code span, so it reads as written (spec.py's pattern keeps backticks out of it)."""
    if escalation:
        example = DOCUMENTATION_EXAMPLES.search(escalation)
        warning = (
            f" It names `{example.group(0)}`, reserved for documentation: this is a sample value that "
            f"reaches nobody; set your own ({how_to_set}), deploy, and regenerate the runbooks "
            "(`python -m tools.docs`) before anyone relies on this runbook."
            if example
            else ""
        )
        return Step(
            title=f"Page `{escalation}`",
            expected=f"who to page and how, as the stack records it ({source}, the spec's "
            "`alarms.escalation`); tell them the runbook, the step that stopped and what it printed. The "
            f"steps below reach the alarms' on-call too.{warning}",
        )
    return Step(
        title="No escalation destination is set for this environment",
        expected=f"the stack records none ({source} is absent): the spec's `alarms.escalation` is unset "
        "(only production requires it). Page whoever owns this environment through your own on-call "
        f"process; to name them here, set it ({how_to_set}), deploy, and regenerate the runbooks "
        "(`python -m tools.docs`).",
    )


def guard(names: Iterable[str]) -> str:
    """A shell line that stops at the first empty or unset variable of `names`, naming it (`${NAME:?}`:
    the shell refuses to expand it); `:` itself does nothing."""
    return ": " + " ".join(f'"${{{name}:?}}"' for name in names)


@dataclass(frozen=True, kw_only=True)
class Step:
    """One copy-pasteable command (it may use lookups' variables), what it prints when all is well, and
    when to stop. An empty `command` is an instruction without one (watch the dashboard, page someone)."""

    title: str
    command: str = ""
    expected: str = ""
    stop_if: str = ""


@dataclass(frozen=True, kw_only=True)
class Duration:
    """An expected duration with the formula spelled out in the stack's values,
    e.g. "interval 10 s x threshold 3 = 30 s"."""

    name: str
    formula: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class DrillReference:
    """The drill scenario that rehearses a runbook on 127.0.0.1 (a key of drill-result.json's "scenarios"),
    or None with `note` saying why it cannot be rehearsed locally."""

    scenario: str | None
    note: str = ""


# How the replacement drill (tools/drill) rehearses each runbook scenario on 127.0.0.1, the same on every
# cloud: the drill scenario that does and what it leaves out, or why it cannot. The drill replaces every
# instance, one at a time, under load: that rehearses both replacement runbooks.
REHEARSALS = {
    "replace-one-instance": DrillReference(
        scenario=REPLACE,
        note="The drill replaces every instance of a local fleet behind haproxy on 127.0.0.1, one at a time "
        "under load; it does not run this procedure's commands against the cloud, whose instance group, load "
        "balancer and permissions only a run in a real account or project (staging first) exercises.",
    ),
    "replace-every-instance": DrillReference(
        scenario=REPLACE, note="The drill's rounds replace every instance under load."
    ),
    "evacuate-zone": DrillReference(
        scenario=None, note="the drill runs every server on one host, so there is no zone to lose."
    ),
    "cache-primary-failure": DrillReference(
        scenario=CACHE_FAILURE,
        note="The drill fails a Redis primary over to its replica on 127.0.0.1, not the cloud's managed "
        "cache.",
    ),
    "restore-store": DrillReference(
        scenario=None,
        note="the drill's store is a local stand-in with no point-in-time history to restore from.",
    ),
    "roll-back-release": DrillReference(
        scenario=None,
        note="the drill runs one release; rolling back is a replacement onto the previous release, which "
        "the replace-every-instance scenario rehearses as far as the fleet is concerned.",
    ),
}


@dataclass(frozen=True, kw_only=True)
class Runbook:
    cloud: str
    environment: str
    scenario: str  # one of SCENARIOS
    title: str
    purpose: str
    when: tuple[str, ...]
    blast_radius: str
    # The capacity arithmetic, ending in "capacity never falls below N of M during this procedure".
    capacity: tuple[str, ...]
    durations: tuple[Duration, ...]
    preconditions: tuple[str, ...]
    # The permissions the commands need, derived from them: an IAM policy document (json) on AWS, a list of
    # roles or permissions (markdown) elsewhere.
    permissions: str
    permissions_format: str  # "json" or "markdown"
    # What the reader fills in the permissions, and how to find it (e.g. a key's ARN from a stack output).
    permissions_note: str = ""
    lookups: tuple[Lookup, ...]
    steps: tuple[Step, ...]
    verification: tuple[Step, ...]
    rollback: tuple[Step, ...]
    escalation: tuple[Step, ...]
    drill: DrillReference
    cli_version: str  # e.g. "AWS CLI v2 (2.22 or later)"
    # Shell variables every command relies on, set before the lookups (`export NAME=value`).
    exports: tuple[tuple[str, str], ...] = ()
    # Shell lines run before the lookups (`set -o pipefail`) and after them: the guard that stops on an
    # empty name (`guard(lookups)` or an echo of `${NAME:?}`), an echo of what was found. Both are commands
    # the reader runs, so `commands()` returns them for the validators.
    before_lookups: tuple[str, ...] = ()
    after_lookups: tuple[str, ...] = ()
    # What the lines after the lookups print when every name was found, and when to stop (shown under the
    # block).
    after_lookups_expected: str = ""

    def commands(self) -> list[str]:
        """Every command the runbook asks a reader to run, in order (what the command validators check)."""
        steps = (*self.steps, *self.verification, *self.rollback, *self.escalation)
        return (
            list(self.before_lookups)
            + [lookup.command for lookup in self.lookups]
            + list(self.after_lookups)
            + [step.command for step in steps if step.command]
        )

    def quoted_commands(self, program: str) -> list[str]:
        """The `program` commands quoted whole, with an option, between backticks in the steps' titles,
        expectations and stop-ifs (`az cosmosdb show -g ...` in a remedy): the reader runs them too, so a
        role derived from the commands includes them. A bare name (`az cosmosdb delete`) names a step's."""
        quoted = re.compile(rf"`({re.escape(program)} [^`]* -[^`]+)`")
        steps = (*self.steps, *self.verification, *self.rollback, *self.escalation)
        return [
            command
            for step in steps
            for text in (step.title, step.expected, step.stop_if)
            for command in quoted.findall(text)
        ]


@dataclass(frozen=True, kw_only=True)
class HealthCheck:
    path: str
    interval_seconds: int
    timeout_seconds: int
    healthy_threshold: int
    unhealthy_threshold: int

    @property
    def detection_seconds(self) -> int:
        """How long an instance fails its checks before the load balancer stops routing to it."""
        return self.interval_seconds * self.unhealthy_threshold

    @property
    def healthy_seconds(self) -> int:
        """How long a new instance passes its checks before the load balancer routes to it."""
        return self.interval_seconds * self.healthy_threshold


@dataclass(frozen=True, kw_only=True)
class Output:
    """A name the runbooks need (a stack output, a resource's name) and the command that prints it."""

    name: str
    description: str
    lookup: str


@dataclass(frozen=True, kw_only=True)
class ResourceFact:
    type: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Node:
    id: str
    label: str
    # Where the diagram groups it: "edge", "network", "compute", "state", "monitoring", "identity".
    tier: str
    # The resource type it stands for; zones or replicas it spans, shown on the node.
    type: str = ""
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Edge:
    source: str
    target: str
    kind: str  # one of EDGE_KINDS
    label: str  # what the rule, integration or grant is, e.g. "tcp/8080 (sg ingress)"


@dataclass(frozen=True, kw_only=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


@dataclass(frozen=True, kw_only=True)
class StatePlace:
    """Where one kind of state lives, for the state-management guide."""

    kind: str  # "sessions", "items", "files", "logs", "secrets", "releases", "instance"
    where: str
    retention: str
    backup: str
    failover: str
    # Rule ids of refarch/rules that enforce what this line says.
    rules: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FailureMode:
    mode: str  # one of FAILURE_MODES
    what_happens: str
    recovery_time: str  # with the formula from the stack's values
    data_loss: str
    runbook: str | None  # the scenario that handles it, or None (and what_happens says what does)


@dataclass(frozen=True, kw_only=True)
class ScanCount:
    """One scanner's result on the stack, e.g. tool="cfn-lint", summary="0 errors, 0 warnings"."""

    tool: str
    summary: str


@dataclass(frozen=True, kw_only=True)
class CostLine:
    resource: str
    type: str
    quantity: float
    unit: str
    unit_price: float | None  # None: not priced (reason in `note`)
    monthly: float | None
    source: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class StackFacts:
    cloud: str
    environment: str
    stack: str
    region: str
    zones: tuple[str, ...]
    min_size: int
    desired: int
    max_size: int
    # Instances per zone at minimum capacity, e.g. "1 in each of 3 zones" (as the cloud balances them).
    per_zone: str
    # Extra instances a rolling replacement adds, and the fewest healthy instances it keeps in service.
    surge: int
    minimum_healthy: int
    health_check: HealthCheck
    draining_seconds: int
    grace_seconds: int
    boot_budget_seconds: int
    warmup_seconds: int
    cache_replicas: int
    cache_failover: bool
    store_pitr: bool
    store_backup: str
    log_retention_days: int
    outputs: tuple[Output, ...]
    resources: tuple[ResourceFact, ...]
    graph: Graph
    state_places: tuple[StatePlace, ...]
    failure_modes: tuple[FailureMode, ...] = ()
    scan_counts: tuple[ScanCount, ...] = ()
    cost_lines: tuple[CostLine, ...] = ()
    # Cloud-specific figures a template may show under "other facts": label -> value text.
    extra: tuple[tuple[str, str], ...] = ()
    # Who to page when a runbook says Escalation, and how: the stack's output recording the spec's
    # alarms.escalation; None when the stack records none (dev and staging may leave it unset).
    escalation: str | None = None
    # Cloud-specific values the cloud's own runbooks read (rollout preferences, logical ids); not rendered.
    details: dict[str, Any] = field(default_factory=dict)

    def output(self, name: str) -> Output:
        for output in self.outputs:
            if output.name == name:
                return output
        raise KeyError(f"{self.cloud} {self.environment}: no output named {name}")

    @property
    def lost_per_zone(self) -> int:
        """The most instances one zone holds at the minimum size (every one without zones)."""
        return math.ceil(self.min_size / len(self.zones)) if self.zones else self.min_size

    @property
    def replacement_seconds(self) -> int:
        """One instance replaced (a wave): it boots within the boot budget, passes the health check, and the
        old one drains."""
        return self.boot_budget_seconds + self.health_check.healthy_seconds + self.draining_seconds

    @property
    def recovery_seconds(self) -> int:
        """A failed instance noticed and its replacement serving (nothing left to drain)."""
        check = self.health_check
        return check.detection_seconds + self.boot_budget_seconds + check.healthy_seconds

    @property
    def monthly_cost(self) -> float:
        return round(sum(line.monthly or 0.0 for line in self.cost_lines), 2)
