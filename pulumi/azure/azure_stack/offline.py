"""How the Azure program runs offline (refarch_pulumi.offline): what the provider would compute, and the SDK
modules the program imports."""

from __future__ import annotations

import uuid
from typing import Any

import pulumi

from refarch_pulumi.offline import CloudMocks

SDK_MODULES = (
    "pulumi",
    "pulumi_azure_native.apimanagement",
    "pulumi_azure_native.applicationinsights",
    "pulumi_azure_native.authorization",
    "pulumi_azure_native.compute",
    "pulumi_azure_native.cosmosdb",
    "pulumi_azure_native.keyvault",
    "pulumi_azure_native.managedidentity",
    "pulumi_azure_native.monitor",
    "pulumi_azure_native.network",
    "pulumi_azure_native.operationalinsights",
    "pulumi_azure_native.privatedns",
    "pulumi_azure_native.redisenterprise",
    "pulumi_azure_native.resources",
    "pulumi_azure_native.storage",
)

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"


def mock_guid(what: str) -> str:
    """A stable GUID where Azure would assign one (client and object IDs of identities)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mock/{what}"))


class Mocks(CloudMocks):
    def resource_id(self, args: pulumi.runtime.MockResourceArgs) -> str:
        # Shaped like an ARM ID, so IDs the program composes (sub-resources, scopes) read naturally.
        module, kind = args.typ.split(":")[1:3]
        if kind == "ResourceGroup":
            group = args.inputs.get("resourceGroupName", args.name)
            return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}"
        return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/mock/providers/{module}/{kind}/{args.name}"

    def computed(self, args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
        name = args.name
        outputs: dict[str, Any] = {"name": args.inputs.get(_NAME_INPUTS.get(args.typ, ""), name)}
        identity = args.inputs.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            # Inputs list identity IDs; Azure answers with a map of them.
            outputs["identity"] = {
                **identity,
                "userAssignedIdentities": {i: {} for i in identity["userAssignedIdentities"]},
            }
        match args.typ:
            case "azure-native:managedidentity:UserAssignedIdentity":
                outputs |= {
                    "clientId": mock_guid(f"{name}/client"),
                    "principalId": mock_guid(f"{name}/principal"),
                }
            case "azure-native:redisenterprise:RedisEnterprise":
                outputs["hostName"] = f"{name}.westeurope.redis.azure.net"
            case "azure-native:cosmosdb:DatabaseAccount":
                outputs["documentEndpoint"] = f"https://{name}.documents.azure.com:443/"
            case "azure-native:storage:StorageAccount":
                outputs["primaryEndpoints"] = {"blob": f"https://{name}.blob.core.windows.net/"}
            case "azure-native:applicationinsights:Component":
                outputs |= {"instrumentationKey": "22222222-2222-2222-2222-222222222222"}
            case "azure-native:apimanagement:ApiManagementService":
                outputs |= {
                    "gatewayUrl": f"https://{name}.azure-api.net",
                    "identity": {"type": "SystemAssigned", "principalId": mock_guid(f"{name}/principal")},
                }
            case "azure-native:keyvault:Vault":
                outputs["properties"] = {
                    **args.inputs.get("properties", {}),
                    "vaultUri": f"https://{name}.vault.azure.net/",
                }
        return outputs

    def invoke(self, token: str, args: Any) -> dict[str, Any]:
        if token == "azure-native:authorization:getClientConfig":
            return {
                "subscriptionId": SUBSCRIPTION,
                "tenantId": TENANT,
                "clientId": "deployer",
                "objectId": "deployer",
            }
        if token == "azure-native:cosmosdb:getDatabaseAccount":
            # An existing account of the resource group (config `itemsAccount`), answered as ARM would.
            name, group = args["accountName"], args["resourceGroupName"]
            return {
                "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
                f"Microsoft.DocumentDB/databaseAccounts/{name}",
                "name": name,
                "documentEndpoint": f"https://{name}.documents.azure.com:443/",
            }
        return super().invoke(token, args)


# The input that names a resource where the program names it; otherwise the logical name stands in.
_NAME_INPUTS = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:compute:VirtualMachineScaleSet": "vmScaleSetName",
    "azure-native:network:ApplicationGateway": "applicationGatewayName",
    "azure-native:network:VirtualNetwork": "virtualNetworkName",
    "azure-native:privatedns:PrivateZone": "privateZoneName",
    "azure-native:cosmosdb:SqlResourceSqlDatabase": "databaseName",
    "azure-native:cosmosdb:SqlResourceSqlContainer": "containerName",
    "azure-native:cosmosdb:SqlResourceSqlRoleDefinition": "roleDefinitionId",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:redisenterprise:Database": "databaseName",
    "azure-native:apimanagement:Api": "apiId",
    "azure-native:operationalinsights:Table": "tableName",
}
