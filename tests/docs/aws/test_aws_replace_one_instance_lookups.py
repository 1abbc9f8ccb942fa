"""AWS replace-one-instance, its lookups and figures: every lookup is guarded, the instance is proved to be
the group's, API calls show their status, the alarm count and the waits are the template's, the dashboard
says what usual is (found missing by a reader trial, briefs s17). Held on the rendered markdown of every
AWS runbook; each figure is read from the synthesized template, not from the generator's facts. Each check
is also shown failing on a document mutated the way the old output was."""

from __future__ import annotations

import re

import pytest

from tools.docs.model import SCENARIOS

LOOKUP_BLOCK = re.compile(r"## Names, looked up from the stack\n.*?```sh\n(.*?)```", re.DOTALL)
ASSIGNED = re.compile(r"^([A-Z_][A-Z0-9_]*)=\$\(", re.MULTILINE)


def aws_runbooks(documents: dict[str, str]) -> dict[str, str]:
    """Every AWS runbook, by its path (the evidence documents left out)."""
    return {
        path: text
        for path, text in documents.items()
        if path.startswith("aws/") and path.rsplit("/", 1)[-1].removesuffix(".md") in SCENARIOS
    }


def unguarded_lookups(text: str) -> list[str]:
    """Variables the lookup block sets that no `${NAME:?}` after the last lookup stops on when empty
    (wrong account or region, expired credentials: every lookup prints nothing)."""
    block = LOOKUP_BLOCK.search(text).group(1)
    names = ASSIGNED.findall(block)
    tail = block[block.rindex("=$(") :]
    return [name for name in names if f"${{{name}:?}}" not in tail] or ([] if names else ["no lookups"])


def group_check_problems(text: str) -> list[str]:
    """set-instance-health names no group: an id from another group in the account is accepted and that
    group replaces its instance. The runbook must prove the id is $ASG's before, with the permission."""
    problems = []
    marking = text.find("aws autoscaling set-instance-health")
    check = text.find("aws autoscaling describe-auto-scaling-instances")
    if check < 0 or marking < 0 or check > marking:
        problems.append("no describe-auto-scaling-instances before set-instance-health")
    if not re.search(r'test "\$GROUP" = "\$ASG"', text[:marking]):
        problems.append("the instance's group is not compared with $ASG")
    if '"autoscaling:DescribeAutoScalingInstances"' not in text:
        problems.append("the policy lacks autoscaling:DescribeAutoScalingInstances")
    return problems


def status_problems(text: str) -> list[str]:
    """Every curl to the API prints the HTTP status (curl -sS alone shows a 5xx body like an answer), the
    URL is joined without relying on a trailing slash, and the expected status is said."""
    joined = text.replace("\\\n", " ")
    calls = [line for line in joined.splitlines() if "API_URL" in line and "curl" in line]
    problems = [f"no status: {line.strip()}" for line in calls if "%{http_code}" not in line]
    problems += [f"slash: {line.strip()}" for line in text.splitlines() if "${API_URL}items" in line]
    if "`HTTP 200`" not in text:
        problems.append("no expected `HTTP 200`")
    return problems


def alarm_count(template: dict) -> int:
    return sum(1 for body in template["Resources"].values() if body["Type"] == "AWS::CloudWatch::Alarm")


def alarm_count_problems(text: str, count: int) -> list[str]:
    """ "No output" from --state-value ALARM proves nothing if the prefix finds no alarm: count them first."""
    if '--query "length(MetricAlarms)"' not in text:
        return ["no alarm count command"]
    if f"`{count}` (the stack's alarms)" not in text:
        return [f"the expected alarm count is not the template's {count}"]
    return []


def canary_seconds(template: dict) -> int:
    (canary,) = (b for b in template["Resources"].values() if b["Type"] == "AWS::Synthetics::Canary")
    expression = canary["Properties"]["Schedule"]["Expression"]
    number, unit = re.fullmatch(r"rate\((\d+) (minute|hour)s?\)", expression).groups()
    return int(number) * (60 if unit == "minute" else 3600)


def _template(synthesized, path: str) -> dict:
    return synthesized.templates[path.split("/")[1]]


def test_every_lookup_is_guarded(documents):
    problems = {path: unguarded_lookups(text) for path, text in aws_runbooks(documents).items()}
    assert len(problems) == 6 * 3
    assert not {path: found for path, found in problems.items() if found}


def test_an_unguarded_lookup_is_caught(documents):
    text = documents["aws/prod/replace-one-instance.md"]
    assert unguarded_lookups(text.replace("ASG=${ASG:?}", "ASG=$ASG")) == ["ASG"]


def test_the_instance_is_proved_to_be_the_groups(documents):
    for environment in ("dev", "staging", "prod"):
        assert group_check_problems(documents[f"aws/{environment}/replace-one-instance.md"]) == []


def test_a_missing_group_check_is_caught(documents):
    text = documents["aws/prod/replace-one-instance.md"]
    broken = text.replace("describe-auto-scaling-instances", "describe-auto-scaling-groups").replace(
        '"autoscaling:DescribeAutoScalingInstances"', ""
    )
    assert len(group_check_problems(broken)) == 2


def test_api_calls_show_their_status(documents):
    problems = {path: status_problems(text) for path, text in aws_runbooks(documents).items()}
    assert not {path: found for path, found in problems.items() if found}


@pytest.mark.parametrize(
    ("find", "replace"),
    [("-w '\\nHTTP %{http_code}\\n' ", ""), ("${API_URL%/}/items", "${API_URL}items")],
)
def test_a_hidden_status_or_slash_is_caught(documents, find, replace):
    text = documents["aws/prod/replace-one-instance.md"]
    assert find in text
    assert status_problems(text.replace(find, replace))


def test_the_alarm_count_is_the_templates(documents, synthesized):
    for path, text in aws_runbooks(documents).items():
        assert alarm_count_problems(text, alarm_count(_template(synthesized, path))) == [], path


def test_a_wrong_alarm_count_is_caught(documents, synthesized):
    text = documents["aws/prod/replace-one-instance.md"]
    count = alarm_count(synthesized.templates["prod"])
    assert alarm_count_problems(text, count + 1)
    assert alarm_count_problems(text.replace("length(MetricAlarms)", "MetricAlarms"), count)


def test_waits_come_from_the_template(documents, synthesized):
    """The target-health stop-if allows a new target its boot budget (the group's health-check grace) plus
    the checks it must pass; the canary check waits for a run on the canary's own schedule."""
    for path, text in aws_runbooks(documents).items():
        resources = _template(synthesized, path)["Resources"].values()
        (group,) = (b["Properties"] for b in resources if b["Type"] == "AWS::AutoScaling::AutoScalingGroup")
        (target,) = (
            b["Properties"] for b in resources if b["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup"
        )
        budget = int(group["HealthCheckGracePeriod"])
        checks = int(target["HealthCheckIntervalSeconds"]) * int(target["HealthyThresholdCount"])
        assert f"= {budget + checks} s after its launch activity started" in text, path
        assert f"every {canary_seconds(_template(synthesized, path))} s (its schedule)" in text, path


def unnamed_limits(text: str, template: dict) -> list[str]:
    """ "Back to their usual level" needs numbers: every single-metric alarm's metric and threshold."""
    alarms = [
        b["Properties"] for b in template["Resources"].values() if b["Type"] == "AWS::CloudWatch::Alarm"
    ]
    return [
        f"{props['MetricName']} {props['Threshold']:g}"
        for props in alarms
        if "MetricName" in props
        and not re.search(rf"{props['MetricName']} \(\w+\) [a-z ]+ {props['Threshold']:g};", text)
    ]


def test_the_dashboard_says_what_usual_is(documents, synthesized):
    for path, text in aws_runbooks(documents).items():
        assert unnamed_limits(text, _template(synthesized, path)) == [], path
    text = documents["aws/prod/replace-one-instance.md"]
    assert unnamed_limits(text.replace("below 0.8;", "below 2;"), synthesized.templates["prod"])
