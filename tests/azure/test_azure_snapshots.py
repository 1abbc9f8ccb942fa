"""Each environment's reviewed inventory: only the values a reviewer signs off on, failing on any drift.
After a deliberate change, review the diff, then run this file with `--snapshot-update`."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from refarch.inventory import reviewed

AZ = "azure-native:"
REVIEWED = {
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
    AZ + "monitor:ScheduledQueryRule": ["criteria", "actions"],
    AZ + "monitor:DiagnosticSetting": ["resourceUri", "logs", "metrics"],
}


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_inventory_matches_reviewed_snapshot(inventory, json_snapshot):
    # A reviewed type with no resource shows as `{}` (the item store's lock outside production).
    assert reviewed(inventory, REVIEWED) == json_snapshot
