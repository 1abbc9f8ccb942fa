"""The IAM policy a runbook's commands need, derived from the commands themselves.

Each `aws` command calls one API operation (tools/docs/commands/aws_cli.py parses it against botocore's
model); its IAM action is `<prefix>:<OperationName>`, where the prefix is the service's signing name from
the same model (`metadata.signingName`, else `endpointPrefix`), except where IAM's service prefix differs
from it (IAM_PREFIXES). Some operations need further actions to do their work (DEPENDENT_ACTIONS), each
with the documentation that says so.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stacks.monitoring import TOPIC_KEY_ACTIONS
from tools.docs.commands import simple_commands
from tools.docs.commands.aws_cli import Invocation, parse, session

# Signing name / endpoint prefix -> IAM service prefix, where they differ. CloudWatch's endpoint prefix
# is `monitoring`, its IAM prefix `cloudwatch` ("Actions, resources, and condition keys for Amazon
# CloudWatch", Service Authorization Reference:
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
IAM_PREFIXES = {"monitoring": "cloudwatch"}
# Calls that need no permission at all ("GetCallerIdentity", AWS STS API Reference: "No permissions are
# required to perform this operation").
UNAUTHORIZED = {"sts:GetCallerIdentity"}
# "DynamoDB RestoreTableToPointInTime permissions are necessary on the source table, and DynamoDB read and
# write permissions on the target table are necessary for restore functionality" ("Using IAM with DynamoDB
# backup and restore": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/backuprestore_IAM.html).
DEPENDENT_ACTIONS = {
    "dynamodb:RestoreTableToPointInTime": (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",
    ),
}


# Calls that read or write a table's items (a restore writes the new table with the caller's permissions):
# on a table encrypted with a customer managed key, each also needs that key, through DynamoDB only. The
# actions are those "How Amazon DynamoDB uses AWS KMS" lists for a principal using such a table, with the
# kms:ViaService condition it shows (AWS KMS Developer Guide, "Authorizing use of your KMS key":
# https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html#dynamodb-authz; DynamoDB
# Developer Guide, "Encryption at rest: how it works": https://docs.aws.amazon.com/amazondynamodb/latest/
# developerguide/encryption.howitworks.html).
ITEM_DATA = frozenset(
    {"dynamodb:RestoreTableToPointInTime", *DEPENDENT_ACTIONS["dynamodb:RestoreTableToPointInTime"]}
)
DATA_KEY_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


# Only a deployment knows the key's ARN: the stack outputs it (stacks/service_stack.py), the runbook says how
# to look it up (DATA_KEY_NOTE).
DATA_KEY_OUTPUT = "DataKeyArn"
DATA_KEY_SID = "KmsTableKeyThroughDynamodb"


def data_key_statement(data_key: str, *, region: str) -> dict:
    """The stack's table key (logical id `data_key`), named by the stack's DataKeyArn output."""
    return {
        "Sid": DATA_KEY_SID,
        "Effect": "Allow",
        "Action": list(DATA_KEY_ACTIONS),
        "Resource": f"<the stack's {DATA_KEY_OUTPUT} output: the ARN of {data_key}>",
        "Condition": {"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
    }


# The alarm topic is encrypted with the stack's own key (stacks/monitoring.py): a publisher needs the key
# too, through SNS only ("Managing Amazon SNS encryption keys and costs", Configuring AWS KMS permissions:
# publishers need kms:GenerateDataKey* and kms:Decrypt, https://docs.aws.amazon.com/sns/latest/dg/
# sns-key-management.html). The actions are the stack's own, those its key policy grants the publishing
# services.
TOPIC_KEY_OUTPUT = "TopicKeyArn"
TOPIC_KEY_SID = "KmsTopicKeyThroughSns"
PUBLISH = "sns:Publish"


def topic_key_statement(topic_key: str, *, region: str) -> dict:
    """The alarm topic's key (logical id `topic_key`), named by the stack's TopicKeyArn output."""
    return {
        "Sid": TOPIC_KEY_SID,
        "Effect": "Allow",
        "Action": list(TOPIC_KEY_ACTIONS),
        "Resource": f"<the stack's {TOPIC_KEY_OUTPUT} output: the ARN of {topic_key}>",
        "Condition": {"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}},
    }


STACK_RESOURCE = "<the physical id of stack resource {}>"


def stack_resource(logical_id: str) -> str:
    """A placeholder for what only a deployment knows: the physical id of one of the stack's resources (the
    runbook's note says how to look it up)."""
    return STACK_RESOURCE.format(logical_id)


def stack_resources(document: str) -> list[str]:
    """The logical ids of the stack_resource placeholders in `document`, in their first order."""
    pattern = re.escape(STACK_RESOURCE).replace(r"\{\}", r"(\w+)")
    return list(dict.fromkeys(re.findall(pattern, document)))


# An Auto Scaling call that names a launch template (StartInstanceRefresh with a desired configuration,
# Create/UpdateAutoScalingGroup) is checked as launching from it: "ec2:RunInstances are checked when an
# Auto Scaling group is created or updated using a launch template"; a template with an instance profile
# also needs iam:PassRole, one with tag specifications ec2:CreateTags with ec2:CreateAction = RunInstances
# ("Control Amazon EC2 launch template usage in Auto Scaling groups", Amazon EC2 Auto Scaling User Guide:
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-launch-template-permissions.html;
# "Amazon EC2 Auto Scaling API permissions", Required permissions from other AWS APIs). Without them the call
# fails "You are not authorized to use launch template". A refresh without a desired configuration names no
# template. ImageId is no SSM parameter in the template (CloudFormation resolves it at deploy), so no
# ssm:GetParameters.
LAUNCH_TEMPLATE_OPTIONS = {"--launch-template", "--mixed-instances-policy"}
LAUNCH_SIDS = (
    "Ec2RunFromTheFleetTemplate",
    "IamPassTheFleetRole",
    "Ec2TagAtLaunch",
    "Ec2RunInTheFleetSubnetsAndGroup",
    "Ec2RunWithInterfacesInTheFleetSubnets",
)
# The resource types of RunInstances that say where an instance's network goes: pinned to the fleet's own
# subnets and security group, every other resource type of the call left to the launch template condition.
NETWORK_TYPES = ("subnet", "security-group", "network-interface")
# What the permissions note says of a policy that may launch from the fleet's template: RunInstances may
# override the template's parameters ("When you launch an instance using a launch template, you can override
# parameters that are specified in the launch template", "Use launch templates to control launching
# instances", Amazon EC2 User Guide), user data among them, and no condition key names user data.
LAUNCH_NOTE = (
    f"{LAUNCH_SIDS[0]} and {LAUNCH_SIDS[1]} let whoever holds this policy launch an instance of their own "
    "(their user data, in the fleet's subnets and security group) that runs as the fleet's role: the check "
    "Auto Scaling makes when a refresh names a launch template needs them. Grant this policy just in time, "
    "for this procedure, and remove it afterwards."
)


@dataclass(frozen=True)
class FleetLaunch:
    """What launching from the fleet's launch template involves (facts.details): the template's logical id,
    the name (pattern) of the role its instance profile carries, the resource types it tags at launch, the
    logical ids of the group's subnets and of the template's security groups."""

    template: str
    role: str
    tagged: tuple[str, ...]
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]


def launch_statements(launch: FleetLaunch, *, region: str) -> list[dict]:
    """Launching from the stack's own template only, into the group's own subnets with the template's own
    security groups. Keys and ARN formats from the Service Authorization Reference (list_amazonec2.html;
    the copy cfn-lint carries, cfnlint/data/AdditionalSpecs/Policies.json, agrees): RunInstances takes
    condition key ec2:LaunchTemplate (an ARN, `arn:${Partition}:ec2:${Region}:${Account}:launch-template/
    ${LaunchTemplateId}`) on each of its resource types, as "Example: Work with launch templates" in the
    Amazon EC2 User Guide scopes it (ArnLike ec2:LaunchTemplate). A caller may override the template's
    subnet and security groups, so those resources are pinned by ARN: subnet `arn:${Partition}:ec2:${Region}:
    ${Account}:subnet/${SubnetId}`, security-group `...:security-group/${SecurityGroupId}`; a network
    interface (`...:network-interface/${NetworkInterfaceId}`, created at launch or an existing one) by its
    subnet, condition key ec2:Subnet ("Filters access by the ARN of the subnet"), which subnet and security
    group do not carry: its own statement. The first statement leaves those three types out (NotResource):
    the rest of the call (instance, volume, image, ...) as before. No ec2:IsLaunchTemplateResource: the group
    supplies its subnets itself, not the template. CreateTags on `instance/*`, `volume/*` with
    ec2:CreateAction; list_awsidentityandaccessmanagementiam.html: PassRole on role
    `arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}` with iam:PassedToService (the instance profile
    hands the role to EC2)."""
    tagged = [f"arn:aws:ec2:{region}:*:{kind}/*" for kind in launch.tagged]
    template_arn = f"arn:aws:ec2:{region}:*:launch-template/{stack_resource(launch.template)}"
    from_template = {"ArnLike": {"ec2:LaunchTemplate": template_arn}}
    subnets = [f"arn:aws:ec2:{region}:*:subnet/{stack_resource(subnet)}" for subnet in launch.subnets]
    groups = [
        f"arn:aws:ec2:{region}:*:security-group/{stack_resource(group)}" for group in launch.security_groups
    ]
    statements = [
        {
            "Sid": LAUNCH_SIDS[0],
            "Effect": "Allow",
            "Action": ["ec2:RunInstances"],
            "NotResource": [f"arn:aws:ec2:*:*:{kind}/*" for kind in NETWORK_TYPES],
            "Condition": from_template,
        },
        {
            "Sid": LAUNCH_SIDS[3],
            "Effect": "Allow",
            "Action": ["ec2:RunInstances"],
            "Resource": subnets + groups,
            "Condition": from_template,
        },
        {
            "Sid": LAUNCH_SIDS[4],
            "Effect": "Allow",
            "Action": ["ec2:RunInstances"],
            "Resource": f"arn:aws:ec2:{region}:*:network-interface/*",
            # Keys of one operator must all match; the values of one key, any of them.
            "Condition": {"ArnLike": {"ec2:LaunchTemplate": template_arn, "ec2:Subnet": subnets}},
        },
        {
            "Sid": LAUNCH_SIDS[1],
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": f"arn:aws:iam::*:role/{launch.role}",
            "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
        },
    ]
    if tagged:
        statements.append(
            {
                "Sid": LAUNCH_SIDS[2],
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": tagged,
                "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}},
            }
        )
    return statements


@dataclass(frozen=True, eq=False)  # grouped by identity: one statement per Scope object
class Scope:
    """Where an action may act: its own statement `<service prefix><name>` on `resource`, with
    `condition` if any (the ARN names the region)."""

    name: str
    resource: str
    condition: dict | None = None


USER_POOL_OUTPUT = "UserPoolId"
# The restore-store runbook names the table it restores into "$TABLE-<UTC minute>" + RESTORED_SUFFIX.
RESTORED_SUFFIX = "-restored"
# What only the table a restore creates may undergo: the item writes a restore makes with the caller's
# permissions ("DynamoDB read and write permissions on the target table", DEPENDENT_ACTIONS) and what the
# runbook gives it afterwards (TTL, point-in-time recovery, deletion protection, tags). Never the table the
# fleet serves: the holder could delete its items or turn its recovery and protection off.
RESTORED_ONLY = frozenset(
    {
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:TagResource",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:UpdateItem",
        "dynamodb:UpdateTable",
        "dynamodb:UpdateTimeToLive",
    }
)
# Only the run knows its restored table's name (restore-store step 1 sets RESTORED): RESTORED_ONLY names that
# one table, never a pattern. A pattern matching the next restore's target also matches an earlier restored
# copy the fleet may serve by then; an exact name matches only this run's table, and the policy is attached
# for the procedure only (after the switch that table is the served one).
RESTORED_TABLE = "<this run's restored table: RESTORED>"
# The DynamoDB actions that take no resource type (list_amazondynamodb.html, Resource types column empty):
# they stay on "*" while every other DynamoDB action is scoped to the stack's table.
DYNAMODB_UNSCOPED = frozenset(
    {
        "dynamodb:DescribeEndpoints",
        "dynamodb:DescribeLimits",
        "dynamodb:DescribeReservedCapacity",
        "dynamodb:DescribeReservedCapacityOfferings",
        "dynamodb:ListBackups",
        "dynamodb:ListContributorInsights",
        "dynamodb:ListExports",
        "dynamodb:ListGlobalTables",
        "dynamodb:ListImports",
        "dynamodb:ListStreams",
        "dynamodb:ListTables",
        "dynamodb:PurchaseReservedCapacityOfferings",
    }
)


def stack_scopes(names: Mapping[str, str], *, region: str, cache_group: str) -> dict[str, Scope]:
    """The actions the runbooks call that take resource-level permissions, each scoped to the stack's own
    resource (names: facts.details["names"]). ARN formats and resource types from the Service Authorization
    Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/):
    - list_amazonec2autoscaling.html: autoScalingGroup `arn:${Partition}:autoscaling:${Region}:${Account}:
      autoScalingGroup:${GroupId}:autoScalingGroupName/${GroupFriendlyName}` for SetInstanceHealth,
      UpdateAutoScalingGroup and the instance-refresh writes;
    - list_amazonsns.html: topic `arn:${Partition}:sns:${Region}:${Account}:${TopicName}`;
    - list_amazoncloudwatchlogs.html: FilterLogEvents on log-group `arn:${Partition}:logs:${Region}:
      ${Account}:log-group:${LogGroupName}` (IAM policies also see it with a trailing `:*`, "Overview of
      managing access permissions to your CloudWatch Logs resources");
    - list_amazoncognitouserpools.html: DescribeUserPoolClient on userpool `arn:${Partition}:cognito-idp:
      ${Region}:${Account}:userpool/${UserPoolId}` (only a deployment knows the id: its UserPoolId output);
    - list_amazonec2.html: GetConsoleOutput on instance `arn:${Partition}:ec2:${Region}:${Account}:
      instance/${InstanceId}` with aws:ResourceTag/${TagKey}; the group tags its instances
      aws:autoscaling:groupName with its name, a tag no caller may set ("Tag Auto Scaling groups and
      instances", Amazon EC2 Auto Scaling User Guide);
    - list_amazondynamodb.html: every table call the runbooks make (item reads and writes, DescribeTable,
      the backup, restore, TTL, tag and table updates) takes table `arn:${Partition}:dynamodb:${Region}:
      ${Account}:table/${TableName}`; a backup is `table/${TableName}/backup/${BackupName}`, an index
      `table/${TableName}/index/${IndexName}`. The reads, the backup and RestoreTableToPointInTime (on the
      source table, "Using IAM with DynamoDB backup and restore") get the pattern of the stack's table name,
      which also covers its restored copy (`$TABLE-restored`), backups and indexes (`*` matches `/` too);
      RESTORED_ONLY gets this run's restored table only, by its exact name (RESTORED_TABLE);
    - list_amazonelasticache.html: TestFailover and DescribeReplicationGroups take replicationgroup
      `arn:${Partition}:elasticache:${Region}:${Account}:replicationgroup:${ReplicationGroupId}`
      (CloudFormation generates the id: only the stack resource's physical id knows it); DescribeEvents
      takes no resource type and stays on "*"."""
    group = Scope(
        "ThisGroup",
        f"arn:aws:autoscaling:{region}:*:autoScalingGroup:*:autoScalingGroupName/{names['group']}",
    )
    topic = Scope("AlarmTopic", f"arn:aws:sns:{region}:*:{names['topic']}")
    log_group = names["service_log_group"]
    logs = Scope(
        "ServiceLog",
        f"arn:aws:logs:{region}:*:log-group:{log_group}"
        + ("" if log_group.endswith("*") else ":*"),  # a pattern covers both spellings
    )
    pool = Scope(
        "UserPool", f"arn:aws:cognito-idp:{region}:*:userpool/<the stack's {USER_POOL_OUTPUT} output>"
    )
    instances = Scope(
        "GroupInstances",
        f"arn:aws:ec2:{region}:*:instance/*",
        {"StringLike": {"aws:ResourceTag/aws:autoscaling:groupName": names["group"]}},
    )
    table_name = names["table"]
    table = Scope(
        "ItemsTable",
        f"arn:aws:dynamodb:{region}:*:table/{table_name}"
        + ("" if table_name.endswith("*") else "*"),  # a literal name: its restored copy too
    )
    restored = Scope("RestoredTable", f"arn:aws:dynamodb:{region}:*:table/{RESTORED_TABLE}")
    cache = Scope(
        "CacheGroup", f"arn:aws:elasticache:{region}:*:replicationgroup:{stack_resource(cache_group)}"
    )
    return {
        **dict.fromkeys(
            (
                "autoscaling:SetInstanceHealth",
                "autoscaling:StartInstanceRefresh",
                "autoscaling:CancelInstanceRefresh",
                "autoscaling:RollbackInstanceRefresh",
                "autoscaling:UpdateAutoScalingGroup",
            ),
            group,
        ),
        **dict.fromkeys(("sns:Publish", "sns:ListSubscriptionsByTopic"), topic),
        "logs:FilterLogEvents": logs,
        "cognito-idp:DescribeUserPoolClient": pool,
        "ec2:GetConsoleOutput": instances,
        "dynamodb:*": table,
        **dict.fromkeys(RESTORED_ONLY, restored),
        **dict.fromkeys(("elasticache:TestFailover", "elasticache:DescribeReplicationGroups"), cache),
    }


def iam_prefix(service: str) -> str:
    metadata = session().get_service_model(service).metadata
    prefix = metadata.get("signingName") or metadata["endpointPrefix"]
    return IAM_PREFIXES.get(prefix, prefix)


def _invocations(snippets: Iterable[str]) -> Iterable[Invocation]:
    """Each `aws` command of the snippets, parsed; a command that does not parse raises."""
    for snippet in snippets:
        for argv in simple_commands(snippet):
            if argv[0] != "aws":
                continue
            invocation, problems = parse(argv)
            if invocation is None:
                raise ValueError(f"`{' '.join(argv)}`: {'; '.join(problems)}")
            yield invocation


def actions(snippets: Iterable[str]) -> list[str]:
    """Every IAM action the snippets' `aws` commands need, sorted; a command that does not parse raises."""
    found: set[str] = set()
    for invocation in _invocations(snippets):
        action = f"{iam_prefix(invocation.service)}:{invocation.operation}"
        if action in UNAUTHORIZED:
            continue
        found.add(action)
        found.update(DEPENDENT_ACTIONS.get(action, ()))
    return sorted(found)


def names_launch_template(invocation: Invocation) -> bool:
    """Whether an Auto Scaling call gives the group a launch template (a refresh's desired configuration, a
    group's launch template or mixed instances policy): such a call is checked as launching from it."""
    if invocation.service != "autoscaling":
        return False
    options = invocation.options
    desired = " ".join(options.get("--desired-configuration", ()))
    return "LaunchTemplate" in desired or bool(LAUNCH_TEMPLATE_OPTIONS & set(options))


def policy(
    snippets: Iterable[str],
    *,
    stack: str,
    region: str,
    data_key: str | None = None,
    topic_key: str | None = None,
    scopes: Mapping[str, Scope] | None = None,
    launch: FleetLaunch | None = None,
) -> str:
    """An identity policy allowing exactly those actions, in this region only: CloudFormation calls scoped to
    this stack, each action of `scopes` to the resources it names (the stack's group, topic, log group,
    user pool, instances, table, cache), the rest on "*" in one statement per service: the reads the
    Service Authorization Reference lists without a resource type (Describe*, List*, GetMetricData...);
    tests/docs/aws/test_aws_permission_scopes.py fails on any write left there. With `data_key` (the logical
    id of the table's customer managed key), item reads and writes get that key; with `topic_key` (the alarm
    topic's key), publishing gets it; with `launch`, a call that names a launch template gets launching
    from the fleet's own."""
    snippets = list(snippets)  # read twice: for the actions, for the launch template
    scopes = dict(scopes or {})
    scopes.setdefault("cloudformation:*", Scope("", f"arn:aws:cloudformation:{region}:*:stack/{stack}/*"))
    grouped: dict[tuple[str, Scope | None], list[str]] = defaultdict(list)
    found = actions(snippets)
    for action in found:
        service = action.split(":")[0]
        scope = scopes.get(action) or (None if action in DYNAMODB_UNSCOPED else scopes.get(f"{service}:*"))
        grouped[service, scope].append(action)
    region_only = {"StringEquals": {"aws:RequestedRegion": region}}
    statements = []
    for (service, scope), granted in sorted(
        grouped.items(), key=lambda item: (item[0][0], _name(item[0][1]))
    ):
        statement = {
            "Sid": "".join(part.capitalize() for part in service.replace("-", " ").split()) + _name(scope),
            "Effect": "Allow",
            "Action": granted,
            "Resource": scope.resource if scope else "*",
        }
        condition = scope.condition if scope else region_only
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    if data_key and ITEM_DATA & set(found):
        statements.append(data_key_statement(data_key, region=region))
    if topic_key and PUBLISH in found:
        statements.append(topic_key_statement(topic_key, region=region))
    if launch and any(names_launch_template(call) for call in _invocations(snippets)):
        statements.extend(launch_statements(launch, region=region))
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def _name(scope: Scope | None) -> str:
    return scope.name if scope else ""


# A policy printed by the shell: a here-document expands $NAME, `...` and backslashes, so the document may
# hold none of them before the fills go in; jq refuses any `<...>` left (a placeholder nobody filled).
UNFILLED = 'if tostring | test("[<>]") then error("a placeholder is left unfilled: fill it first") else . end'


def filled_policy_command(document: str, fills: Mapping[str, str]) -> str:
    """One shell command printing `document` with each placeholder of `fills` (a regex) replaced by a shell
    variable's value; it stops, printing nothing, when a variable is unset or empty, and refuses to print
    when any `<...>` is left."""
    if found := set(re.findall(r"[$`\\]", document)):
        raise ValueError(f"the policy holds {sorted(found)}, which a here-document would expand")
    for placeholder, variable in fills.items():
        document = re.sub(placeholder, lambda _, variable=variable: f"${{{variable}}}", document)
    variables = " ".join(f'"${{{variable}:?}}"' for variable in dict.fromkeys(fills.values()))
    return f": {variables} && jq -e '{UNFILLED}' <<EOF\n{document}\nEOF"
