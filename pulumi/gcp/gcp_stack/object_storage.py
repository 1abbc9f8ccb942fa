"""Object storage tier: private buckets (uniform access, public access prevention enforced, versioned)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp.storage as storage

from gcp_stack.tier import Tier, environment_labels

OBJECT_VIEWER = "roles/storage.objectViewer"
# Deleted objects stay recoverable this long (Cloud Storage's default soft delete).
SOFT_DELETE_SECONDS = 7 * 24 * 3600


def private_bucket(
    name: str, environment: str, region: str, opts: pulumi.ResourceOptions, **kwargs
) -> storage.Bucket:
    return storage.Bucket(
        name,
        location=region,
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning=storage.BucketVersioningArgs(enabled=True),
        soft_delete_policy=storage.BucketSoftDeletePolicyArgs(retention_duration_seconds=SOFT_DELETE_SECONDS),
        # Buckets hold data or releases: `pulumi destroy` must not empty them.
        force_destroy=False,
        labels=environment_labels(environment),
        opts=opts,
        **kwargs,
    )


@dataclass(frozen=True, kw_only=True)
class ObjectStorageArgs:
    environment: str
    region: str
    # How long a replaced or deleted object version is kept before it is deleted.
    noncurrent_days: int


class ObjectStorage(Tier):
    def __init__(
        self, name: str, args: ObjectStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ObjectStorage", name, opts)
        self.files = private_bucket(
            "files",
            args.environment,
            args.region,
            self.child(),
            lifecycle_rules=[
                storage.BucketLifecycleRuleArgs(
                    action=storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=storage.BucketLifecycleRuleConditionArgs(
                        days_since_noncurrent_time=args.noncurrent_days, with_state="ARCHIVED"
                    ),
                ),
                storage.BucketLifecycleRuleArgs(
                    action=storage.BucketLifecycleRuleActionArgs(type="AbortIncompleteMultipartUpload"),
                    condition=storage.BucketLifecycleRuleConditionArgs(age=7),
                ),
            ],
        )
        self.register_outputs({"files": self.files.name})
