"""The stack's customer-managed key for data at rest: logs, the item table and the cache's AUTH secret.

Production turns it on in the spec (`encryption.customer_managed_keys`): the key's policy, rotation and
deletion are the operator's, and CloudTrail records every use. Other environments may keep AWS-managed
keys. One key per stack, so a key policy names one environment's services only.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from refarch.spec import EnvironmentSpec

# The module, not the name: retention imports this module for its log groups.
from stacks import retention
from stacks.acknowledgments import acknowledge_control

KEY_ID = "DataKey"


def data_key(scope: Construct, spec: EnvironmentSpec) -> kms.IKey | None:
    """This stack's data key, created on first use; None where the spec keeps AWS-managed keys."""
    if not spec.encryption.customer_managed_keys:
        return None
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(KEY_ID)
    return existing if existing is not None else _create(stack, spec)


def _create(stack: Stack, spec: EnvironmentSpec) -> kms.Key:
    key = kms.Key(
        stack,
        KEY_ID,
        description=f"Data at rest of the stateless service ({spec.name}): logs, item table, cache secret",
        enable_key_rotation=True,
        removal_policy=retention.removal_policy(spec),
    )
    # CloudWatch Logs encrypts only log groups of this account and region with it (CloudWatch Logs,
    # "Encrypt log data in CloudWatch Logs using AWS KMS": the aws:logs:arn encryption context).
    log_groups = stack.format_arn(
        service="logs", resource="log-group", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )
    acknowledge_control(key.node.default_child, "CT.KMS.PR.3")
    return key
