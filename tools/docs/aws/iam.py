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
from collections.abc import Iterable

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


def policy(snippets: Iterable[str], *, stack: str, region: str, data_key: str | None = None) -> str:
    """An identity policy allowing exactly those actions: one statement per service, in this region only;
    CloudFormation reads scoped to this stack. Most of the other actions (Describe*, the refresh and
    failover calls) take no resource-level scoping by name the stack can know before deployment. With
    `data_key` (the logical id of the table's customer managed key), item reads and writes get that key."""
    by_service: dict[str, list[str]] = defaultdict(list)
    found = actions(snippets)
    for action in found:
        by_service[action.split(":")[0]].append(action)
    region_only = {"StringEquals": {"aws:RequestedRegion": region}}
    statements = []
    for service, granted in sorted(by_service.items()):
        resource = (
            f"arn:aws:cloudformation:{region}:*:stack/{stack}/*" if service == "cloudformation" else "*"
        )
        statement = {
            "Sid": "".join(part.capitalize() for part in service.replace("-", " ").split()),
            "Effect": "Allow",
            "Action": granted,
            "Resource": resource,
        }
        if resource == "*":
            statement["Condition"] = region_only
        statements.append(statement)
    if data_key and ITEM_DATA & set(found):
        statements.append(data_key_statement(data_key, region=region))
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
