"""Each AWS runbook's policy lets its own calls succeed and no more: a refresh onto a launch template may
launch from the fleet's template only; the table and cache calls name the stack's table and replication group;
what stays on "*" is reads that take no resource type.

Sources: "Control Amazon EC2 launch template usage in Auto Scaling groups" and "Amazon EC2 Auto Scaling API
permissions", Amazon EC2 Auto Scaling User Guide (ec2:RunInstances checked when a group is created or updated
with a launch template; iam:PassRole for a template with an instance profile; ec2:CreateTags with
ec2:CreateAction = RunInstances for one with tag specifications); "Example: Work with launch templates",
Amazon EC2 User Guide (RunInstances on "*" with ArnLike ec2:LaunchTemplate); Service Authorization Reference
list_amazonec2.html (launch-template `arn:${Partition}:ec2:${Region}:${Account}:launch-template/
${LaunchTemplateId}`), list_awsidentityandaccessmanagementiam.html (role `arn:${Partition}:iam::${Account}:
role/${RoleNameWithPath}`, iam:PassedToService), list_amazondynamodb.html (table `...:table/${TableName}`,
backup `table/${TableName}/backup/${BackupName}`, index `table/${TableName}/index/${IndexName}`; every table
call the runbooks make takes table), list_amazonelasticache.html (TestFailover, DescribeReplicationGroups:
replicationgroup `arn:${Partition}:elasticache:${Region}:${Account}:replicationgroup:${ReplicationGroupId}`).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from stacks.service_stack import stack_name
from tools.docs.aws.facts import physical_name
from tools.docs.aws.iam import RESTORED_ONLY, RESTORED_TABLE
from tools.docs.aws.template import Template, TemplateError, ref_id
from tools.docs.commands import simple_commands

ACCOUNT = "111122223333"
# Verbs of calls that only read; the Service Authorization Reference lists no resource type for the ones the
# runbooks leave on "*" (Describe*, List*, Get*).
READ_VERBS = ("Describe", "List", "Get")


def _runbook(stack, scenario):
    return next(r for r in stack.runbooks if r.scenario == scenario)


def _aws(generated):
    stacks = [stack for stack in generated if stack.facts.cloud == "aws"]
    assert stacks
    return stacks


def _statements(runbook):
    return json.loads(runbook.permissions)["Statement"]


def _granting(runbook, action):
    found = [s for s in _statements(runbook) if action in s["Action"]]
    assert len(found) == 1, (runbook.environment, runbook.scenario, action, found)
    return found[0]


def _resources(statement):
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _only(model, type_):
    (found,) = [(name, body) for name, body in model["Resources"].items() if body["Type"] == type_]
    return found


def _generated(environment, logical_id):
    """A name as CloudFormation generates it: "<stack name>-<logical id>-<random suffix>"."""
    return f"{stack_name(environment)}-{logical_id}-1A2B3C4D5E6F"


def _launch_template(model):
    """The fleet's launch template (the one the group launches from), its instance profile's role, and the
    resource types it tags at launch, read from the template."""
    _, group = _only(model, "AWS::AutoScaling::AutoScalingGroup")
    props = group["Properties"]
    spec = (
        props["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
        if "MixedInstancesPolicy" in props
        else props["LaunchTemplate"]
    )
    template = ref_id(spec["LaunchTemplateId"])
    data = model["Resources"][template]["Properties"]["LaunchTemplateData"]
    profile = ref_id(data["IamInstanceProfile"]["Arn"])
    (role,) = model["Resources"][profile]["Properties"]["Roles"]
    return template, ref_id(role), [tag["ResourceType"] for tag in data.get("TagSpecifications", [])]


def _names_launch_template(runbook) -> bool:
    for step in (*runbook.steps, *runbook.rollback):
        for argv in simple_commands(step.command or ""):
            refresh = argv[:3] == ["aws", "autoscaling", "start-instance-refresh"]
            if refresh and "--desired-configuration" in argv:
                return True
    return False


def test_the_rollback_refresh_may_launch_from_the_fleet_s_own_template(generated, docs_inputs):
    for stack in _aws(generated):
        facts, runbook = stack.facts, _runbook(stack, "roll-back-release")
        model = docs_inputs.models["aws"][facts.environment]
        template, role, tagged = _launch_template(model)
        assert _names_launch_template(runbook)

        # Every statement launching does so from the fleet's template (where it launches to:
        # test_aws_runbook_policies_spare_the_live_stack.py).
        runs = [s for s in _statements(runbook) if "ec2:RunInstances" in s["Action"]]
        assert runs
        for run in runs:
            assert run["Action"] == ["ec2:RunInstances"]
            ((operator, condition),) = run["Condition"].items()
            assert operator == "ArnLike"
            pattern = condition["ec2:LaunchTemplate"]
            assert pattern.startswith(f"arn:aws:ec2:{facts.region}:*:launch-template/")
            assert template in pattern  # the placeholder names the template; the note says how to look it up
        assert f"--logical-resource-id {template} " in runbook.permissions_note

        pass_role = _granting(runbook, "iam:PassRole")
        assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        roles = [name for name, body in model["Resources"].items() if body["Type"] == "AWS::IAM::Role"]
        for other in roles:
            arn = f"arn:aws:iam::{ACCOUNT}:role/{_generated(facts.environment, other)}"
            # The instance role only: never the stack's other roles (the canary's, custom resources').
            assert fnmatchcase(arn, pass_role["Resource"]) == (other == role), other

        tags = _granting(runbook, "ec2:CreateTags")
        assert tags["Condition"] == {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
        assert sorted(_resources(tags)) == sorted(f"arn:aws:ec2:{facts.region}:*:{kind}/*" for kind in tagged)


def test_only_a_call_naming_a_launch_template_gets_launch_permissions(generated):
    # replace-every-instance refreshes onto the group's own configuration: no template in the call.
    for stack in _aws(generated):
        for runbook in stack.runbooks:
            launches = any("ec2:RunInstances" in s["Action"] for s in _statements(runbook))
            assert launches == _names_launch_template(runbook), runbook.scenario


def test_table_calls_name_the_stack_s_table_its_restored_copy_and_backups(generated, docs_inputs):
    for stack in _aws(generated):
        facts, runbook = stack.facts, _runbook(stack, "restore-store")
        model = docs_inputs.models["aws"][facts.environment]
        table, _ = _only(model, "AWS::DynamoDB::Table")
        dynamodb = [s for s in _statements(runbook) if any(a.startswith("dynamodb:") for a in s["Action"])]
        assert dynamodb
        own = f"arn:aws:dynamodb:{facts.region}:{ACCOUNT}:table/{_generated(facts.environment, table)}"
        restored = f"{own}-202612010531-restored"  # as restore-store step 1 names it, filled in by it
        for statement in dynamodb:
            (resource,) = _resources(statement)
            resource = resource.replace(RESTORED_TABLE, restored.rpartition("/")[2])
            assert resource != "*", statement
            if statement["Effect"] == "Deny":
                continue  # the served table (test_aws_runbook_policies_spare_the_live_stack.py)
            backup, index = "/backup/01234567890123-a1bcd234", "/index/byOwner"
            # The changes only a restored copy may undergo name it alone; the rest its source too.
            source = () if set(statement["Action"]) <= RESTORED_ONLY else (own, own + backup, own + index)
            for arn in (*source, restored):
                assert fnmatchcase(arn, resource), (arn, resource)
            other = own.replace(stack_name(facts.environment), stack_name("other"))
            assert not fnmatchcase(other, resource)
            assert not fnmatchcase(own.replace(facts.region, "us-east-2"), resource)


def test_failover_names_the_stack_s_replication_group(generated, docs_inputs):
    tested = 0
    for stack in _aws(generated):
        facts, runbook = stack.facts, _runbook(stack, "cache-primary-failure")
        model = docs_inputs.models["aws"][facts.environment]
        group, _ = _only(model, "AWS::ElastiCache::ReplicationGroup")
        granted = {a for s in _statements(runbook) for a in s["Action"]}
        # A group without automatic failover (a single node) has no failover to test.
        failover = facts.cache_failover
        assert ("elasticache:TestFailover" in granted) == failover
        tested += failover
        for action in ("elasticache:TestFailover", "elasticache:DescribeReplicationGroups"):
            if action not in granted:
                continue
            resource = _granting(runbook, action)["Resource"]
            assert resource.startswith(f"arn:aws:elasticache:{facts.region}:*:replicationgroup:<")
            assert group in resource
        assert f"--logical-resource-id {group} " in runbook.permissions_note
    assert tested


def test_what_stays_on_everything_only_reads(generated):
    checked = 0
    for stack in _aws(generated):
        for runbook in stack.runbooks:
            for statement in _statements(runbook):
                if statement.get("Resource") != "*" or "ec2:LaunchTemplate" in json.dumps(statement):
                    continue
                for action in statement["Action"]:
                    checked += 1
                    verb = action.split(":")[1]
                    assert verb.startswith(READ_VERBS), (runbook.environment, runbook.scenario, action)
                    # The table and cache calls the runbooks make all take a resource type.
                    assert not action.startswith(("dynamodb:", "elasticache:TestFailover")), action
    assert checked


def test_a_role_name_cloudformation_may_shorten_is_refused(docs_inputs):
    model = docs_inputs.models["aws"]["prod"]
    _, role, _ = _launch_template(model)
    assert physical_name(Template("prod", model), role) == f"{stack_name('prod')}-{role}-*"
    # A longer stack name: the generated name would pass IAM's 64 characters, CloudFormation shortens it.
    with pytest.raises(TemplateError, match=f"{role}'s generated name may be shortened"):
        physical_name(Template("production-eu-central", model), role)


def test_a_replacement_s_figure_counts_from_in_service_and_says_what_it_leaves_out(generated):
    # The grace and the warm-up start when the new instance enters InService ("waits before checking the
    # health status of an EC2 instance that has come into service", HealthCheckGracePeriod); launch (Pending)
    # and the old instance's termination are outside the figure, so it is no upper bound ("Set the health
    # check grace period", https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html).
    for stack in _aws(generated):
        for runbook in stack.runbooks:
            for duration in runbook.durations:
                if not duration.name.startswith("one replacement"):
                    continue
                assert "at most" not in duration.formula, runbook.scenario
                assert "from launch" not in duration.formula, runbook.scenario
                assert "from InService" in duration.formula and "`Pending`" in duration.formula


def test_a_cancelled_or_failed_refresh_is_said_to_leave_replaced_instances(generated):
    # "Canceling an instance refresh does not roll back any instances that were already replaced"
    # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/cancel-instance-refresh.html).
    checked = 0
    for stack in _aws(generated):
        for runbook in stack.runbooks:
            for step in runbook.steps:
                if step.title != "Make sure no instance refresh is running":
                    continue
                checked += 1
                assert "After `Cancelled` or `Failed` the instances that refresh already replaced stay" in (
                    step.expected
                )
    assert checked
