"""Log groups that keep what the spec says for as long as the spec says."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from refarch.spec import EnvironmentSpec


def removal_policy(spec: EnvironmentSpec) -> RemovalPolicy:
    """Production keeps logs and data when the stack goes; other environments clean up after themselves."""
    return RemovalPolicy.RETAIN if spec.production else RemovalPolicy.DESTROY


def retained_log_group(
    scope: Construct, construct_id: str, spec: EnvironmentSpec, *, name: str | None = None
) -> logs.LogGroup:
    group = logs.LogGroup(scope, construct_id, log_group_name=name, removal_policy=removal_policy(spec))
    # The spec admits only CloudWatch's own periods, so its number of days goes straight in.
    cfn_group: logs.CfnLogGroup = group.node.default_child
    cfn_group.retention_in_days = spec.retention.log_days
    return group
