"""Each environment's reviewed inventory: only the values that matter, signed off like code.

Regenerate with `pytest tests/gcp --snapshot-update` and review the diff.
"""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from refarch.inventory import reviewed

# The release id hashes the service's files: it changes with any edit to the service, not the architecture.
RELEASE = re.compile(r"\b[0-9a-f]{16}\b")

REVIEWED = {
    "gcp:compute/network:Network": ["autoCreateSubnetworks", "routingMode"],
    "gcp:compute/subnetwork:Subnetwork": ["ipCidrRange", "privateIpGoogleAccess", "logConfig"],
    "gcp:compute/route:Route": ["destRange", "nextHopGateway"],
    "gcp:dns/managedZone:ManagedZone": ["dnsName", "visibility"],
    "gcp:dns/recordSet:RecordSet": ["name", "type", "rrdatas"],
    "gcp:compute/routerNat:RouterNat": ["sourceSubnetworkIpRangesToNat", "logConfig"],
    "gcp:compute/firewall:Firewall": [
        "direction",
        "priority",
        "allows",
        "denies",
        "sourceRanges",
        "destinationRanges",
        "targetServiceAccounts",
        "logConfig",
    ],
    "gcp:serviceaccount/account:Account": ["accountId"],
    "gcp:projects/iAMMember:IAMMember": ["role", "member", "condition.expression"],
    "gcp:compute/instanceTemplate:InstanceTemplate": [
        "machineType",
        "disks.0.sourceImage",
        "disks.0.diskSizeGb",
        "networkInterfaces",
        "shieldedInstanceConfig",
        "metadata.enable-oslogin",
        "metadata.block-project-ssh-keys",
        "serviceAccount.scopes",
    ],
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": [
        "distributionPolicyZones",
        "autoHealingPolicies",
        "updatePolicy",
        "targetSize",
        "waitForInstances",
        "waitForInstancesStatus",
    ],
    "gcp:compute/regionAutoscaler:RegionAutoscaler": ["autoscalingPolicy"],
    "gcp:compute/healthCheck:HealthCheck": ["httpHealthCheck", "checkIntervalSec", "unhealthyThreshold"],
    "gcp:compute/backendService:BackendService": [
        "loadBalancingScheme",
        "sessionAffinity",
        "connectionDrainingTimeoutSec",
        "timeoutSec",
        "logConfig",
    ],
    "gcp:compute/sSLPolicy:SSLPolicy": ["profile", "minTlsVersion"],
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": ["portRange", "loadBalancingScheme"],
    "gcp:compute/securityPolicy:SecurityPolicy": [
        "rules",
        "adaptiveProtectionConfig",
        "advancedOptionsConfig",
    ],
    "gcp:apigateway/gateway:Gateway": ["region"],
    "gcp:redis/instance:Instance": [
        "tier",
        "redisVersion",
        "memorySizeGb",
        "replicaCount",
        "readReplicasMode",
        "authEnabled",
        "transitEncryptionMode",
        "connectMode",
        "reservedIpRange",
        "persistenceConfig",
        "deletionProtection",
    ],
    "gcp:secretmanager/secret:Secret": ["secretId", "replication", "deletionProtection"],
    "gcp:secretmanager/secretVersion:SecretVersion": ["secretData"],
    "gcp:secretmanager/secretIamMember:SecretIamMember": ["role", "member"],
    "gcp:firestore/database:Database": [
        "name",
        "type",
        "pointInTimeRecoveryEnablement",
        "deleteProtectionState",
        "deletionPolicy",
    ],
    "gcp:firestore/field:Field": ["collection", "field", "ttlConfig"],
    "gcp:firestore/backupSchedule:BackupSchedule": ["retention", "weeklyRecurrence"],
    "gcp:storage/bucket:Bucket": [
        "uniformBucketLevelAccess",
        "publicAccessPrevention",
        "versioning",
        "forceDestroy",
        "lifecycleRules",
    ],
    "gcp:storage/bucketIAMMember:BucketIAMMember": ["role", "member"],
    "gcp:monitoring/alertPolicy:AlertPolicy": [
        "conditions.0.conditionThreshold.thresholdValue",
        "conditions.0.conditionThreshold.comparison",
        "conditions.0.conditionThreshold.duration",
        "conditions.0.conditionThreshold.aggregations",
    ],
    "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": ["period", "httpCheck"],
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": ["retentionDays"],
    "gcp:logging/projectExclusion:ProjectExclusion": ["filter"],
}


def _normalise(value):
    return json.loads(RELEASE.sub("<release>", json.dumps(value)))


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_inventory_matches_reviewed_snapshot(inventory, json_snapshot):
    assert reviewed(inventory, REVIEWED, _normalise) == json_snapshot
