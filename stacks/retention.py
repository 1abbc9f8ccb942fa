"""Log groups that keep what the spec says for as long as the spec says."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from refarch.spec import EnvironmentSpec

# The module, not the name: encryption imports this module too, whichever of the two loads first.
from stacks import encryption
from stacks.acknowledgments import acknowledge_checkov, acknowledge_control

# Control Tower CT.CLOUDWATCH.PR.2 asks for at least this retention.
YEAR_DAYS = 365


def removal_policy(spec: EnvironmentSpec) -> RemovalPolicy:
    """Production keeps logs and data when the stack goes; other environments clean up after themselves."""
    return RemovalPolicy.RETAIN if spec.production else RemovalPolicy.DESTROY


def retained_log_group(
    scope: Construct, construct_id: str, spec: EnvironmentSpec, *, name: str | None = None
) -> logs.LogGroup:
    key = encryption.data_key(scope, spec)
    group = logs.LogGroup(
        scope, construct_id, log_group_name=name, removal_policy=removal_policy(spec), encryption_key=key
    )
    # The spec admits only CloudWatch's own periods, so its number of days goes straight in.
    cfn_group: logs.CfnLogGroup = group.node.default_child
    cfn_group.retention_in_days = spec.retention.log_days
    if key is None:
        acknowledge_checkov(cfn_group, "CKV_AWS_158", reason_key="CKV_AWS_158 AWS-managed keys")
        acknowledge_control(cfn_group, "CT.CLOUDWATCH.PR.3", reason_key="CT.CLOUDWATCH.PR.3 AWS-managed keys")
    if spec.retention.log_days < YEAR_DAYS:
        acknowledge_control(cfn_group, "CT.CLOUDWATCH.PR.2", reason_key="CT.CLOUDWATCH.PR.2 spec retention")
    return group
