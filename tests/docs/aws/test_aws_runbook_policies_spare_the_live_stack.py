"""What an AWS runbook's policy lets its holder do beyond the runbook's own calls, and where its Escalation
says the destination is set.

- roll-back-release: launching from the fleet's template (Auto Scaling's check of a refresh that names it)
  stays in the fleet's own subnets and security group, and the permissions note says the policy can launch as
  the fleet's role. A caller may override a template's parameters ("When you launch an instance using a
  launch template, you can override parameters that are specified in the launch template", "Use launch
  templates to control launching instances", Amazon EC2 User Guide). Service Authorization Reference,
  list_amazonec2.html (and cfn-lint's copy, cfnlint/data/AdditionalSpecs/Policies.json): RunInstances takes
  subnet `arn:${Partition}:ec2:${Region}:${Account}:subnet/${SubnetId}`, security-group
  `...:security-group/${SecurityGroupId}`, network-interface `...:network-interface/${NetworkInterfaceId}`,
  each with condition key ec2:LaunchTemplate; network-interface also ec2:Subnet ("Filters access by the ARN
  of the subnet").
- restore-store: the writes, Update* and TagResource reach the restored copy only, never the table the fleet
  serves (the stack's own, or after a switch an earlier restored copy); reads and RestoreTableToPointInTime
  reach the source ("Using IAM with DynamoDB backup and restore": RestoreTableToPointInTime on the source
  table, read and write on the target; list_amazondynamodb.html: table `...:table/${TableName}`).
- Escalation: the destination is set in cdk.json's context or environments.toml, which `python -m tools.docs`
  reads; a `cdk deploy -c` value reaches the stack's output but never the runbooks.

The policies are evaluated as IAM does ("Policy evaluation logic", IAM User Guide): an explicit deny wins,
else an allow whose Resource (or NotResource) and every condition match; a condition key the request lacks
fails a condition without IfExists; `*` in an ARN matches any characters.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase

import pytest

from refarch import ROOT
from stacks.service_stack import stack_name
from tools.docs.aws.facts import app_subnets, launch_security_groups
from tools.docs.aws.iam import RESTORED_SUFFIX, RESTORED_TABLE
from tools.docs.aws.runbooks.store import NEW_NAME
from tools.docs.aws.template import Template, TemplateError, ref_id
from tools.docs.commands import simple_commands
from tools.docs.commands.aws_cli import parse

ACCOUNT = "111122223333"
PLACEHOLDER = re.compile(r"<the physical id of stack resource (\w+)>")
README = ROOT / "stacks" / "README.md"


def _aws(generated):
    stacks = [stack for stack in generated if stack.facts.cloud == "aws"]
    assert stacks
    return stacks


def _runbook(stack, scenario):
    return next(r for r in stack.runbooks if r.scenario == scenario)


def _physical_id(logical_id: str) -> str:
    return f"id-{logical_id.lower()}"


def _deployed(document: str, **outputs: str) -> list[dict]:
    """The policy as a reader fills it in: each stack resource's physical id and each output's value."""
    text = PLACEHOLDER.sub(lambda match: _physical_id(match.group(1)), document)
    for output, value in outputs.items():
        text = text.replace(f"<the stack's {output} output>", value)
    return json.loads(text)["Statement"]


def _listed(value) -> list[str]:
    return value if isinstance(value, list) else [value]


def _conditions_hold(condition: dict, context: dict[str, str]) -> bool:
    for operator, keys in condition.items():
        assert operator in ("ArnLike", "StringEquals", "StringLike"), operator
        for key, allowed in keys.items():
            if key not in context or not any(fnmatchcase(context[key], value) for value in _listed(allowed)):
                return False
    return True


def _matches(statement: dict, action: str, resource: str, context: dict[str, str]) -> bool:
    if action not in statement["Action"]:
        return False
    if "NotResource" in statement:
        in_scope = not any(fnmatchcase(resource, arn) for arn in _listed(statement["NotResource"]))
    else:
        in_scope = any(fnmatchcase(resource, arn) for arn in _listed(statement["Resource"]))
    return in_scope and _conditions_hold(statement.get("Condition", {}), context)


def allowed(
    statements: list[dict], action: str, resource: str, context: dict[str, str] | None = None
) -> bool:
    context = context or {}
    matching = [s for s in statements if _matches(s, action, resource, context)]
    return bool(matching) and all(s["Effect"] == "Allow" for s in matching)


def _only(model, type_):
    (found,) = [(name, body) for name, body in model["Resources"].items() if body["Type"] == type_]
    return found


def _fleet_network(model) -> tuple[list[str], list[str]]:
    """The group's subnets and its launch template's security groups, read from the template."""
    _, group = _only(model, "AWS::AutoScaling::AutoScalingGroup")
    _, template = _only(model, "AWS::EC2::LaunchTemplate")
    data = template["Properties"]["LaunchTemplateData"]
    groups = [ref_id(g) for interface in data.get("NetworkInterfaces", []) for g in interface["Groups"]]
    groups += [ref_id(g) for g in data.get("SecurityGroupIds", [])]
    return [ref_id(s) for s in group["Properties"]["VPCZoneIdentifier"]], groups


def test_a_launch_from_the_fleet_s_template_stays_in_its_subnets_and_security_group(generated, docs_inputs):
    for stack in _aws(generated):
        facts, runbook = stack.facts, _runbook(stack, "roll-back-release")
        model = docs_inputs.models["aws"][facts.environment]
        subnets, groups = _fleet_network(model)
        template_id, _ = _only(model, "AWS::EC2::LaunchTemplate")
        others = [name for name, body in model["Resources"].items() if body["Type"] == "AWS::EC2::Subnet"]
        others = [name for name in others if name not in subnets]  # the edge and data subnets
        other_groups = [
            name
            for name, body in model["Resources"].items()
            if body["Type"] == "AWS::EC2::SecurityGroup" and name not in groups
        ]
        assert subnets and groups and others and other_groups
        statements = _deployed(runbook.permissions)
        ec2 = f"arn:aws:ec2:{facts.region}:{ACCOUNT}"
        launch = {"ec2:LaunchTemplate": f"{ec2}:launch-template/{_physical_id(template_id)}"}

        def may_launch(resource: str, statements=statements, launch=launch, **context: str) -> bool:
            return allowed(statements, "ec2:RunInstances", resource, {**launch, **context})

        for subnet in subnets:
            subnet_arn = f"{ec2}:subnet/{_physical_id(subnet)}"
            assert may_launch(subnet_arn)
            assert may_launch(f"{ec2}:network-interface/eni-0a1b", **{"ec2:Subnet": subnet_arn})
            # Not without the template: the grant is Auto Scaling's check of a refresh naming it.
            assert not allowed(statements, "ec2:RunInstances", subnet_arn)
        for group in groups:
            assert may_launch(f"{ec2}:security-group/{_physical_id(group)}")
        # An override of the template's network: another subnet, group or an interface elsewhere.
        for other in others:
            other_arn = f"{ec2}:subnet/{_physical_id(other)}"
            assert not may_launch(other_arn), (facts.environment, other)
            assert not may_launch(f"{ec2}:network-interface/eni-0a1b", **{"ec2:Subnet": other_arn})
        for other in other_groups:
            assert not may_launch(f"{ec2}:security-group/{_physical_id(other)}"), (facts.environment, other)
        assert not may_launch(f"{ec2}:subnet/subnet-0123456789abcdef0")
        assert not may_launch(f"{ec2}:security-group/sg-0123456789abcdef0")
        # The rest of the call, as the template has it.
        for resource in (f"{ec2}:instance/*", f"{ec2}:volume/*", f"arn:aws:ec2:{facts.region}::image/ami-1"):
            assert may_launch(resource), resource
        # Each id the reader fills in is looked up from the stack, and the note says what the policy can do.
        for logical_id in [*subnets, *groups, template_id]:
            assert f"--logical-resource-id {logical_id} " in runbook.permissions_note
        assert "runs as the fleet's role" in runbook.permissions_note
        assert "just in time" in runbook.permissions_note


def test_a_template_whose_network_is_not_the_stack_s_own_is_refused(docs_inputs):
    model = json.loads(json.dumps(docs_inputs.models["aws"]["prod"]))
    subnets, groups = _fleet_network(model)
    assert list(app_subnets(Template("prod", model))) == subnets
    assert list(launch_security_groups(Template("prod", model))) == groups
    _, group = _only(model, "AWS::AutoScaling::AutoScalingGroup")
    group["Properties"]["VPCZoneIdentifier"][0] = "subnet-0123456789abcdef0"
    with pytest.raises(TemplateError, match=r"the group's subnets .* are not all the stack's own"):
        app_subnets(Template("prod", model))
    _, template = _only(model, "AWS::EC2::LaunchTemplate")
    template["Properties"]["LaunchTemplateData"]["NetworkInterfaces"][0]["Groups"] = ["sg-0123456789abcdef0"]
    with pytest.raises(TemplateError, match=r"security groups .* are not all the stack's own"):
        launch_security_groups(Template("prod", model))


# Where each table option of a dynamodb call names its table.
TABLE_OPTIONS = ("--table-name", "--source-table-name", "--target-table-name", "--resource-arn")


def _table_calls(runbook) -> list[tuple[str, str]]:
    """(IAM action, the variable naming its table) of each dynamodb call of the runbook, its target-table item
    writes included (a restore makes them with the caller's permissions)."""
    calls = []
    for command in runbook.commands():
        for argv in simple_commands(command):
            if argv[:2] != ["aws", "dynamodb"]:
                continue
            invocation, problems = parse(argv)
            assert invocation, problems
            options = invocation.options
            named = {option: options[option][0] for option in TABLE_OPTIONS if option in options}
            if not named:
                continue  # list-backups: no table of its own
            action = f"dynamodb:{invocation.operation}"
            if action == "dynamodb:RestoreTableToPointInTime":
                calls.append((action, named["--source-table-name"]))
                writes = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "GetItem", "Query", "Scan")
                calls += [(f"dynamodb:{write}", named["--target-table-name"]) for write in writes]
            else:
                (table,) = named.values()
                calls.append((action, table))
    return calls


# What would damage a table: its items, its recovery, its protection, its tags.
CHANGES = (
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "UpdateTable",
    "UpdateTimeToLive",
    "UpdateContinuousBackups",
    "TagResource",
)


def test_a_restore_changes_only_the_restored_copy_never_the_served_table(generated, docs_inputs):
    checked = 0
    for stack in _aws(generated):
        facts, runbook = stack.facts, _runbook(stack, "restore-store")
        if not facts.store_pitr:
            continue
        model = docs_inputs.models["aws"][facts.environment]
        table, _ = _only(model, "AWS::DynamoDB::Table")
        own = f"{stack_name(facts.environment)}-{table}-1A2B3C4D5E6F"  # as CloudFormation names it
        dynamodb = f"arn:aws:dynamodb:{facts.region}:{ACCOUNT}:table/"
        calls = _table_calls(runbook)
        assert {table for _, table in calls} == {"$TABLE", "$RESTORED", "$RESTORED_ARN"}, calls
        # The fleet serves the stack's own table, or after an earlier switch a restored copy.
        for served in (own, f"{own}-202611010000{RESTORED_SUFFIX}", own + RESTORED_SUFFIX):
            restored = f"{served}-202612010531{RESTORED_SUFFIX}"  # the runbook's RESTORED, this run's
            assert NEW_NAME in "\n".join(runbook.commands())
            statements = _deployed(runbook.permissions.replace(RESTORED_TABLE, restored))
            names = {"$TABLE": served, "$RESTORED": restored, "$RESTORED_ARN": restored}
            for action, variable in calls:
                assert allowed(statements, action, dynamodb + names[variable]), (action, variable, served)
            for change in CHANGES:
                # Neither the served table nor the stack's own is ever changed.
                for kept in (served, own):
                    assert not allowed(statements, f"dynamodb:{change}", dynamodb + kept), (change, kept)
            # The writes name this run's table only: no deny is needed to keep them off the served one.
            assert all(s["Effect"] == "Allow" for s in statements)
            checked += 1
    assert checked


def _escalation_texts(runbook) -> str:
    first = runbook.escalation[0]
    return f"{first.title} {first.expected} {first.stop_if}"


def test_the_escalation_hint_names_what_the_runbooks_are_built_from(generated):
    checked = 0
    for stack in _aws(generated):
        environment = stack.facts.environment
        for runbook in stack.runbooks:
            text = _escalation_texts(runbook)
            if "python -m tools.docs" not in text:
                continue  # a destination that needs no change says nothing of setting one
            checked += 1
            assert f"cdk.json context `spec.{environment}.alarms.escalation`" in text, runbook.scenario
            assert f"environments.toml `[{environment}.alarms]`" in text
            # A -c value never reaches the runbooks: the hint offers none, and says why.
            assert "-c spec." not in text and "`-c " not in text
            assert "not `cdk deploy -c`, which `python -m tools.docs` does not see" in text
    assert checked


def test_the_readme_sets_the_escalation_where_the_runbooks_read_it():
    text = " ".join(README.read_text().split())
    start = text.index("Production must also name whom a runbook's Escalation pages")
    paragraph = text[start : text.index("(their runbooks say it is unset and how to set it)", start)]
    assert "-c spec.prod.alarms.escalation" not in paragraph
    assert "cdk.json's context `spec.prod.alarms.escalation`" in paragraph
    assert "a `-c` value would reach the deployed `Escalation` output but never the runbooks" in paragraph
