"""The IAM policy a runbook's commands need, derived from the commands themselves.

Each `aws` command calls one API operation (tools/docs/commands/aws_cli.py parses it against botocore's
model); its IAM action is `<prefix>:<OperationName>`, where the prefix is the service's signing name from
the same model (`metadata.signingName`, else `endpointPrefix`), except where IAM's service prefix differs
from it (IAM_PREFIXES). Some operations need further actions to do their work (DEPENDENT_ACTIONS), each
with the documentation that says so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stacks.monitoring import TOPIC_KEY_ACTIONS
from tools.docs.commands import simple_commands
from tools.docs.commands.aws_cli import parse, session

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


@dataclass(frozen=True, eq=False)  # grouped by identity: one statement per Scope object
class Scope:
    """Where an action may act: its own statement `<service prefix><name>` on `resource`, with
    `condition` if any (the ARN names the region)."""

    name: str
    resource: str
    condition: dict | None = None


USER_POOL_OUTPUT = "UserPoolId"


def stack_scopes(names: Mapping[str, str], *, region: str) -> dict[str, Scope]:
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
      instances", Amazon EC2 Auto Scaling User Guide)."""
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
    }


def iam_prefix(service: str) -> str:
    metadata = session().get_service_model(service).metadata
    prefix = metadata.get("signingName") or metadata["endpointPrefix"]
    return IAM_PREFIXES.get(prefix, prefix)


def actions(snippets: Iterable[str]) -> list[str]:
    """Every IAM action the snippets' `aws` commands need, sorted; a command that does not parse raises."""
    found: set[str] = set()
    for snippet in snippets:
        for argv in simple_commands(snippet):
            if argv[0] != "aws":
                continue
            invocation, problems = parse(argv)
            if invocation is None:
                raise ValueError(f"`{' '.join(argv)}`: {'; '.join(problems)}")
            action = f"{iam_prefix(invocation.service)}:{invocation.operation}"
            if action in UNAUTHORIZED:
                continue
            found.add(action)
            found.update(DEPENDENT_ACTIONS.get(action, ()))
    return sorted(found)


def policy(
    snippets: Iterable[str],
    *,
    stack: str,
    region: str,
    data_key: str | None = None,
    topic_key: str | None = None,
    scopes: Mapping[str, Scope] | None = None,
) -> str:
    """An identity policy allowing exactly those actions, in this region only: CloudFormation reads scoped to
    this stack, each action of `scopes` to the resources it names (the stack's group, topic, log group,
    user pool, instances), the rest (Describe* and calls that take no resource-level permission) on "*"
    in one statement per service. With `data_key` (the logical id of the table's customer managed key),
    item reads and writes get that key; with `topic_key` (the alarm topic's key), publishing gets it."""
    scopes = dict(scopes or {})
    scopes.setdefault("cloudformation:*", Scope("", f"arn:aws:cloudformation:{region}:*:stack/{stack}/*"))
    grouped: dict[tuple[str, Scope | None], list[str]] = defaultdict(list)
    found = actions(snippets)
    for action in found:
        service = action.split(":")[0]
        grouped[service, scopes.get(action) or scopes.get(f"{service}:*")].append(action)
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
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def _name(scope: Scope | None) -> str:
    return scope.name if scope else ""
