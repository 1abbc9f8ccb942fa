"""What each stack's reviewed snapshot holds, for the snapshot tests and `make diff` alike: the CloudFormation
template with content hashes made stable, and for each Pulumi project the values a reviewer signs off on
(the cloud-foundation-fabric idea: list only the values that matter). Snapshots live under
tests/<cloud>/__snapshots__/ and are rewritten with `pytest ... --snapshot-update`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from refarch import ROOT
from refarch.inventory import Inventory, reviewed

# Content hashes of assets change with any edit to the service bundle, not with the architecture.
ASSET_HASH = re.compile(r"[0-9a-f]{64}")
# So does the release bundle's id (refarch.bundle), which names the release directory an instance installs.
RELEASE = re.compile(r"RELEASE='[0-9a-f]{16}'")
# On GCP the release id stands alone in the metadata and labels.
RELEASE_ID = re.compile(r"\b[0-9a-f]{16}\b")


def normalised_template(template: dict) -> dict:
    text = RELEASE.sub("RELEASE='<release>'", ASSET_HASH.sub("<asset-hash>", json.dumps(template)))
    return json.loads(text)


def _gcp_normalise(value: Any) -> Any:
    return json.loads(RELEASE_ID.sub("<release>", json.dumps(value)))


AZ = "azure-native:"
AZURE = {
    AZ + "network:VirtualNetwork": ["addressSpace.addressPrefixes", "subnets"],
    AZ + "network:NetworkSecurityGroup": ["securityRules"],
    AZ + "network:NatGateway": ["sku.name"],
    AZ + "network:ApplicationGateway": [
        "sku",
        "zones",
        "autoscaleConfiguration",
        "frontendIPConfigurations",
        "httpListeners",
        "probes",
        "backendHttpSettingsCollection",
        "sslPolicy",
    ],
    AZ + "network:WebApplicationFirewallPolicy": ["policySettings", "managedRules"],
    AZ + "network:PrivateEndpoint": [
        "privateLinkServiceConnections",
        "subnet.id",
        "applicationSecurityGroups",
    ],
    AZ + "monitor:DataCollectionRule": ["streamDeclarations", "dataSources", "destinations", "dataFlows"],
    AZ + "operationalinsights:Table": ["tableName", "schema", "retentionInDays"],
    AZ + "compute:VirtualMachineScaleSet": [
        "orchestrationMode",
        "zones",
        "sku",
        "identity",
        "upgradePolicy",
        "automaticRepairsPolicy",
        "virtualMachineProfile.networkProfile",
        "virtualMachineProfile.extensionProfile",
        "virtualMachineProfile.securityProfile",
        "virtualMachineProfile.storageProfile",
        "virtualMachineProfile.osProfile.linuxConfiguration.disablePasswordAuthentication",
        "virtualMachineProfile.osProfile.linuxConfiguration.patchSettings",
        "virtualMachineProfile.scheduledEventsProfile",
    ],
    AZ + "monitor:AutoscaleSetting": ["profiles"],
    AZ + "apimanagement:ApiManagementService": [
        "sku",
        "zones",
        "virtualNetworkType",
        "customProperties",
        "developerPortalStatus",
        "legacyPortalStatus",
    ],
    AZ + "apimanagement:Diagnostic": ["alwaysLog", "sampling"],
    AZ + "apimanagement:Api": ["path", "protocols", "subscriptionRequired"],
    AZ + "apimanagement:ApiPolicy": ["value"],
    AZ + "apimanagement:Backend": ["url"],
    AZ + "apimanagement:Logger": ["loggerType", "credentials"],
    AZ + "redisenterprise:RedisEnterprise": [
        "sku",
        "highAvailability",
        "minimumTlsVersion",
        "publicNetworkAccess",
    ],
    AZ + "redisenterprise:AccessPolicyAssignment": ["accessPolicyAssignmentName", "accessPolicyName"],
    AZ + "redisenterprise:Database": [
        "clientProtocol",
        "port",
        "accessKeysAuthentication",
        "evictionPolicy",
        "persistence",
    ],
    AZ + "cosmosdb:DatabaseAccount": [
        "locations",
        "consistencyPolicy",
        "backupPolicy",
        "disableLocalAuth",
        "publicNetworkAccess",
        "minimalTlsVersion",
    ],
    AZ + "cosmosdb:SqlResourceSqlContainer": ["resource", "options"],
    AZ + "cosmosdb:SqlResourceSqlRoleAssignment": ["roleDefinitionId", "scope"],
    AZ + "cosmosdb:SqlResourceSqlRoleDefinition": ["permissions", "assignableScopes"],
    AZ + "authorization:RoleAssignment": ["roleDefinitionId", "scope"],
    AZ + "authorization:ManagementLockByScope": ["level", "scope"],
    AZ + "storage:StorageAccount": [
        "sku.name",
        "allowBlobPublicAccess",
        "allowSharedKeyAccess",
        "publicNetworkAccess",
        "minimumTlsVersion",
        "networkRuleSet",
    ],
    AZ + "storage:BlobServiceProperties": [
        "isVersioningEnabled",
        "deleteRetentionPolicy",
        "containerDeleteRetentionPolicy",
    ],
    AZ + "keyvault:Vault": ["properties"],
    AZ + "operationalinsights:Workspace": ["retentionInDays"],
    AZ + "monitor:MetricAlert": ["scopes", "criteria", "actions", "evaluationFrequency", "windowSize"],
    AZ + "monitor:ScheduledQueryRule": ["criteria", "actions", "evaluationFrequency", "windowSize"],
    AZ + "monitor:DiagnosticSetting": ["resourceUri", "logs", "metrics"],
}

GCP = {
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
    "gcp:projects/iAMCustomRole:IAMCustomRole": ["roleId", "permissions"],
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
        "conditions.0.conditionThreshold.evaluationMissingData",
        "conditions.0.conditionMatchedLog.filter",
        "alertStrategy",
    ],
    "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": ["period", "httpCheck"],
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": ["retentionDays"],
    "gcp:logging/projectExclusion:ProjectExclusion": ["filter"],
}

REVIEWED: dict[str, tuple[dict[str, list[str]], Callable[[Any], Any]]] = {
    "azure": (AZURE, lambda value: value),
    "gcp": (GCP, _gcp_normalise),
}


def reviewed_view(cloud: str, inventory: Inventory) -> dict:
    fields, normalise = REVIEWED[cloud]
    return reviewed(inventory, fields, normalise)


def snapshot_path(cloud: str, stack: str) -> Path:
    """The committed snapshot of an environment's template (aws) or reviewed inventory (azure, gcp)."""
    test = "test_snapshots" if cloud == "aws" else f"test_{cloud}_snapshots"
    kind = "template" if cloud == "aws" else "inventory"
    return (
        ROOT
        / "tests"
        / cloud
        / "__snapshots__"
        / test
        / f"test_{kind}_matches_reviewed_snapshot[{stack}].json"
    )
