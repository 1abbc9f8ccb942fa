"""Regenerates `names.json` and `definitions.json` from a checkout of Azure/azure-resource-manager-schemas:
the name rule of every resource type the program names, and the few property definitions the tests
validate, each from the schema of the api-version the installed pulumi_azure_native SDK pins.

    python tests/azure/arm_schema/vendor.py <git dir of azure-resource-manager-schemas>

Only these small pieces are kept (the whole schema set is hundreds of megabytes). Expression alternatives
(`[parameters(...)]`, an ARM template feature) are dropped: the program passes plain values.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pulumi_azure_native

HERE = Path(__file__).parent
SDK = Path(pulumi_azure_native.__file__).parent

# Pulumi type -> (SDK module file, schema provider file, resourceDefinitions key, the input that names it).
RESOURCES = {
    "redisenterprise:RedisEnterprise": (
        "redisenterprise/redis_enterprise.py",
        "Microsoft.Cache",
        "redisEnterprise",
        "clusterName",
    ),
    "redisenterprise:Database": (
        "redisenterprise/database.py",
        "Microsoft.Cache",
        "redisEnterprise_databases",
        "databaseName",
    ),
    "redisenterprise:AccessPolicyAssignment": (
        "redisenterprise/access_policy_assignment.py",
        "Microsoft.Cache",
        "redisEnterprise_databases_accessPolicyAssignments",
        "accessPolicyAssignmentName",
    ),
    "storage:StorageAccount": (
        "storage/storage_account.py",
        "Microsoft.Storage",
        "storageAccounts",
        "accountName",
    ),
    "storage:BlobContainer": (
        "storage/blob_container.py",
        "Microsoft.Storage",
        "storageAccounts_blobServices_containers",
        "containerName",
    ),
    "compute:VirtualMachineScaleSet": (
        "compute/virtual_machine_scale_set.py",
        "Microsoft.Compute",
        "virtualMachineScaleSets",
        "vmScaleSetName",
    ),
    "keyvault:Vault": ("keyvault/vault.py", "Microsoft.KeyVault", "vaults", "vaultName"),
    "cosmosdb:DatabaseAccount": (
        "cosmosdb/database_account.py",
        "Microsoft.DocumentDB",
        "databaseAccounts",
        "accountName",
    ),
    "apimanagement:ApiManagementService": (
        "apimanagement/api_management_service.py",
        "Microsoft.ApiManagement",
        "service",
        "serviceName",
    ),
    "apimanagement:Api": ("apimanagement/api.py", "Microsoft.ApiManagement", "service_apis", "apiId"),
    "apimanagement:ApiOperation": (
        "apimanagement/api_operation.py",
        "Microsoft.ApiManagement",
        "service_apis_operations",
        "operationId",
    ),
    "apimanagement:Backend": (
        "apimanagement/backend.py",
        "Microsoft.ApiManagement",
        "service_backends",
        "backendId",
    ),
    "apimanagement:Logger": (
        "apimanagement/logger.py",
        "Microsoft.ApiManagement",
        "service_loggers",
        "loggerId",
    ),
    "apimanagement:Diagnostic": (
        "apimanagement/diagnostic.py",
        "Microsoft.ApiManagement",
        "service_diagnostics",
        "diagnosticId",
    ),
    "managedidentity:UserAssignedIdentity": (
        "managedidentity/user_assigned_identity.py",
        "Microsoft.ManagedIdentity",
        "userAssignedIdentities",
        "resourceName",
    ),
    "operationalinsights:Workspace": (
        "operationalinsights/workspace.py",
        "Microsoft.OperationalInsights",
        "workspaces",
        "workspaceName",
    ),
    "operationalinsights:Table": (
        "operationalinsights/table.py",
        "Microsoft.OperationalInsights",
        "workspaces_tables",
        "tableName",
    ),
    "monitor:DataCollectionRule": (
        "monitor/data_collection_rule.py",
        "Microsoft.Insights",
        "dataCollectionRules",
        "dataCollectionRuleName",
    ),
}
# Property definitions the tests validate: Pulumi type -> (SDK module file, schema provider file, the root
# definitions). Each root comes with every definition it references, descriptions dropped.
DEFINITIONS = {
    "compute:VirtualMachineScaleSet": (
        "compute/virtual_machine_scale_set.py",
        "Microsoft.Compute",
        ["LinuxPatchSettings", "ScheduledEventsProfile", "RollingUpgradePolicy", "AutomaticRepairsPolicy"],
    ),
    "apimanagement:ApiManagementService": (
        "apimanagement/api_management_service.py",
        "Microsoft.ApiManagement",
        ["ApiManagementServiceProperties"],
    ),
    "redisenterprise:RedisEnterprise": (
        "redisenterprise/redis_enterprise.py",
        "Microsoft.Cache",
        ["ClusterCreateProperties"],
    ),
    "redisenterprise:Database": (
        "redisenterprise/database.py",
        "Microsoft.Cache",
        ["DatabaseCreateProperties"],
    ),
    "redisenterprise:AccessPolicyAssignment": (
        "redisenterprise/access_policy_assignment.py",
        "Microsoft.Cache",
        ["AccessPolicyAssignmentProperties"],
    ),
    "network:NetworkSecurityGroup": (
        "network/network_security_group.py",
        "Microsoft.Network.NRP",
        ["SecurityRulePropertiesFormat"],
    ),
    "monitor:DiagnosticSetting": (
        "monitor/diagnostic_setting.py",
        "Microsoft.Insights",
        ["DiagnosticSettingsAutoGenerated"],
    ),
    "monitor:MetricAlert": ("monitor/metric_alert.py", "Microsoft.Insights", ["MetricCriteria"]),
    "monitor:DataCollectionRule": (
        "monitor/data_collection_rule.py",
        "Microsoft.Insights",
        ["DataCollectionRuleResourceProperties"],
    ),
    "operationalinsights:Table": (
        "operationalinsights/table.py",
        "Microsoft.OperationalInsights",
        ["TableProperties"],
    ),
}


def closure(schema: dict, roots: list[str]) -> dict:
    """The `roots` and every definition they reference, transitively."""
    found: dict = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = without_descriptions(without_expressions(schema[name]))
        pending += re.findall(r'"#/definitions/([^"]+)"', json.dumps(found[name]))
    return found


def without_descriptions(schema):
    if isinstance(schema, dict):
        return {k: without_descriptions(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [without_descriptions(item) for item in schema]
    return schema


def api_version(module_file: str) -> str:
    return re.search(r"Uses Azure REST API version ([0-9a-z-]+)", (SDK / module_file).read_text()).group(1)


def without_expressions(schema):
    """The schema with ARM template expression alternatives removed (`oneOf: [X, expression]` -> X)."""
    if isinstance(schema, dict):
        alternatives = schema.get("oneOf")
        if isinstance(alternatives, list):
            plain = [a for a in alternatives if "common/definitions.json" not in a.get("$ref", "")]
            if len(plain) == 1:
                rest = {k: v for k, v in schema.items() if k != "oneOf"}
                return without_expressions({**rest, **plain[0]})
        return {key: without_expressions(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [without_expressions(item) for item in schema]
    return schema


def main(git_dir: str) -> None:
    def show(path: str) -> dict:
        return json.loads(
            subprocess.run(
                ["git", f"--git-dir={git_dir}", "show", f"HEAD:{path}"], capture_output=True, check=True
            ).stdout
        )

    commit = subprocess.run(
        ["git", f"--git-dir={git_dir}", "rev-parse", "HEAD"], capture_output=True, check=True, text=True
    ).stdout.strip()
    source = {"repository": "github.com/Azure/azure-resource-manager-schemas", "commit": commit}
    names = {"_source": source}
    for typ, (module, provider, key, name_input) in RESOURCES.items():
        version = api_version(module)
        path = f"schemas/{version}/{provider}.json"
        definition = show(path)["resourceDefinitions"][key]
        names[typ] = {
            "path": path,
            "apiVersion": version,
            "resourceDefinition": key,
            "nameInput": name_input,
            "name": without_expressions(definition["properties"]["name"]),
        }
    definitions = {"_source": source}
    for typ, (module, provider, wanted) in DEFINITIONS.items():
        version = api_version(module)
        path = f"schemas/{version}/{provider}.json"
        schema = show(path)["definitions"]
        definitions[typ] = {
            "path": path,
            "apiVersion": version,
            "roots": wanted,
            "definitions": closure(schema, wanted),
        }
    (HERE / "names.json").write_text(json.dumps(names, indent=1, sort_keys=True) + "\n")
    (HERE / "definitions.json").write_text(json.dumps(definitions, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
