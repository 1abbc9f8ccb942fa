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


def policy(snippets: Iterable[str], *, stack: str, region: str) -> str:
    """An identity policy allowing exactly those actions: one statement per service, in this region only;
    CloudFormation reads scoped to this stack. Most of the other actions (Describe*, the refresh and
    failover calls) take no resource-level scoping by name the stack can know before deployment."""
    by_service: dict[str, list[str]] = defaultdict(list)
    for action in actions(snippets):
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
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
