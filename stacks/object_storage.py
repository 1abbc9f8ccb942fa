"""Object storage tier: the service's file bucket and the bucket that receives access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.spec import EnvironmentSpec
from stacks.acknowledgments import acknowledge_checkov, acknowledge_control


def _private_bucket(scope: Construct, construct_id: str, **kwargs) -> s3.Bucket:
    # Buckets hold data or audit trails, so they outlive the stack in every environment.
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        encryption=s3.BucketEncryption.S3_MANAGED,
        removal_policy=RemovalPolicy.RETAIN,
        **kwargs,
    )


class ObjectStorage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, spec: EnvironmentSpec) -> None:
        super().__init__(scope, construct_id)
        # Server access logs and load balancer logs both require SSE-S3 on their target bucket.
        self.access_logs = _private_bucket(
            self,
            "AccessLogs",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(spec.retention.access_log_days))],
        )
        for check in ("CKV_AWS_18", "CKV_AWS_21"):
            acknowledge_checkov(self.access_logs.node.default_child, check)
        for control in ("CT.S3.PR.11", "CT.S3.PR.2"):
            acknowledge_control(self.access_logs.node.default_child, control)
        self.files = _private_bucket(
            self,
            "Files",
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3/files/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(spec.retention.access_log_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        for name, bucket in (("access logs", self.access_logs), ("files", self.files)):
            acknowledge_control(bucket.node.default_child, "CT.S3.PR.10", reason_key=f"CT.S3.PR.10 {name}")
            for control in ("CT.S3.PR.4", "CT.S3.PR.9"):
                acknowledge_control(bucket.node.default_child, control)
