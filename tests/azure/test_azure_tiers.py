"""What every Azure environment guarantees, tier by tier, read from the offline inventory."""

from __future__ import annotations

import copy
import ipaddress
import subprocess

import pytest
from azure_queries import (
    NET,
    admits_port,
    allowed_inbound,
    boot_script,
    nsg,
    refers_to,
    service_variables,
    subnets,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from refarch import ROOT
from refarch.inventory import Inventory
from sample_service.paths import HEALTH_PATH

COMPONENTS = {
    "refarch:azure:StatelessService",
    "refarch:azure:ServiceTelemetry",
    "refarch:azure:ServiceNetwork",
    "refarch:azure:ServiceIdentity",
    "refarch:azure:ObjectStorage",
    "refarch:azure:ItemStore",
    "refarch:azure:SessionCache",
    "refarch:azure:ServiceLoadBalancer",
    "refarch:azure:StatelessFleet",
    "refarch:azure:PublicApi",
    "refarch:azure:ServiceAlerts",
}


def _snake_case_keys(value, path=""):
    if isinstance(value, dict):
        for key, child in value.items():
            if "_" in key and not key.startswith("Microsoft."):
                yield f"{path}.{key}"
            yield from _snake_case_keys(child, f"{path}.{key}")
    elif isinstance(value, list):
        for child in value:
            yield from _snake_case_keys(child, path)


def test_every_tier_is_a_component_that_owns_its_resources(inventory: Inventory):
    components = inventory.components()
    assert {component.type for component in components} == COMPONENTS
    assert inventory.orphans() == []
    for component in components:
        assert inventory.children_of(component.name), f"{component.type} owns nothing"
    # Everything but the root hangs off a component (the root owns the resource group and the tiers).
    assert {r.parent for r in inventory if r.parent} <= {c.name for c in components}


def test_inputs_reach_azure_under_its_property_names(inventory: Inventory):
    # A plain dict where the SDK expects a union type keeps Python's snake_case keys, which Azure ignores.
    found = [f"{r.type} {r.name}{path}" for r in inventory for path in _snake_case_keys(r.inputs)]
    assert found == []


def test_subnets_fit_the_spec_cidr_and_only_instances_egress_through_nat(inventory: Inventory, spec):
    vnet = inventory.only(NET + "VirtualNetwork")
    assert vnet.get("addressSpace.addressPrefixes") == [spec.vpc_cidr]
    by_tier = subnets(inventory)
    assert set(by_tier) == {"gateway", "apim", "app", "data"}
    network = ipaddress.IPv4Network(spec.vpc_cidr)
    ranges = [ipaddress.IPv4Network(subnet["addressPrefix"]) for subnet in by_tier.values()]
    assert all(r.subnet_of(network) for r in ranges)
    assert not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1 :])
    assert [tier for tier, subnet in by_tier.items() if "natGateway" in subnet] == ["app"]
    assert (
        by_tier["app"]["defaultOutboundAccess"] is False and by_tier["data"]["defaultOutboundAccess"] is False
    )
    assert by_tier["data"]["privateEndpointNetworkPolicies"] == "Enabled"


def test_nsgs_chain_api_gateway_to_load_balancer_to_instances_to_data(inventory: Inventory, spec):
    cidrs = {tier: subnet["addressPrefix"] for tier, subnet in subnets(inventory).items()}
    port = str(spec.service.port)
    # Besides clients from API Management, only the platform's own gateway-manager and probe traffic.
    assert allowed_inbound(nsg(inventory, "gateway")) == [
        ("GatewayManager", ("65200-65535",)),
        ("AzureLoadBalancer", ("*",)),
        (cidrs["apim"], ("80",)),
    ]
    assert allowed_inbound(nsg(inventory, "app")) == [(cidrs["gateway"], (port,))]
    assert allowed_inbound(nsg(inventory, "data")) == [
        (cidrs["app"], ("443", "10000")),
        (cidrs["apim"], ("443",)),
    ]
    # Only the API gateway's subnet takes traffic from the internet, and only on 443.
    internet = [
        (group.name, ports)
        for group in inventory.of_type(NET + "NetworkSecurityGroup")
        for source, ports in allowed_inbound(group)
        if source in ("Internet", "*", "0.0.0.0/0")
    ]
    assert internet == [("apim-nsg", ("443",))]
    for group in inventory.of_type(NET + "NetworkSecurityGroup"):
        last = max(group.get("securityRules"), key=lambda rule: rule["priority"])
        assert (last["access"], last["sourceAddressPrefix"], last["destinationPortRange"]) == (
            "Deny",
            "*",
            "*",
        )
        # Only Azure's own probe (the AzureLoadBalancer tag, which App Gateway v2 requires on any port)
        # may reach a port range that includes 22; no client or network source ever may.
        ssh = [source for source, ports in allowed_inbound(group) if admits_port(ports, 22)]
        assert set(ssh) <= {"AzureLoadBalancer"}, f"{group.name} admits SSH from {ssh}"


def test_scale_set_is_flexible_zonal_private_and_replaced_with_surge(inventory: Inventory, spec):
    scale_set = inventory.only("azure-native:compute:VirtualMachineScaleSet")
    capacity = spec.capacity
    assert scale_set.get("orchestrationMode") == "Flexible"
    assert scale_set.get("zones") == [str(zone) for zone in range(1, spec.zones + 1)]
    assert scale_set.get("sku.capacity") == capacity.desired
    rolling = scale_set.get("upgradePolicy")
    assert rolling["mode"] == "Rolling" and rolling["rollingUpgradePolicy"]["maxSurge"] is True
    assert rolling["rollingUpgradePolicy"]["rollbackFailedInstancesOnPolicyBreach"] is True
    repairs = scale_set.get("automaticRepairsPolicy")
    assert repairs["enabled"] is True and repairs["repairAction"] == "Replace"
    profile = scale_set.get("virtualMachineProfile")
    (nic,) = profile["networkProfile"]["networkInterfaceConfigurations"]
    (ip,) = nic["ipConfigurations"]
    assert "publicIPAddressConfiguration" not in ip
    assert ip["subnet"]["id"].endswith("/subnets/app")
    assert profile["storageProfile"]["osDisk"]["deleteOption"] == "Delete"
    assert profile["securityProfile"]["encryptionAtHost"] is True


def test_instances_accept_no_password_and_no_usable_key(inventory: Inventory):
    profile = inventory.only("azure-native:compute:VirtualMachineScaleSet").get(
        "virtualMachineProfile.osProfile"
    )
    linux = profile["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True and "adminPassword" not in profile
    # Azure requires one key: a well-formed RSA public key, and the repository holds no private key at all
    # (so nobody here can log in with it).
    (key,) = [key["keyData"] for key in linux["ssh"]["publicKeys"]]
    public = serialization.load_ssh_public_key(key.encode())
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size >= 3072
    pem = ["git", "grep", "-lE", "-e", "-----BEGIN [A-Z ]*PRIVATE KEY-----"]
    tracked = subprocess.run(pem, cwd=ROOT, capture_output=True, text=True, check=False)
    assert tracked.returncode == 1 and tracked.stdout == "", tracked.stdout


def test_health_extension_checks_the_services_shallow_health(inventory: Inventory, spec):
    extensions = inventory.only("azure-native:compute:VirtualMachineScaleSet").get(
        "virtualMachineProfile.extensionProfile.extensions"
    )
    (extension,) = [e for e in extensions if e["type"] == "ApplicationHealthLinux"]
    assert extension["settings"]["requestPath"] == HEALTH_PATH
    assert extension["settings"]["port"] == spec.service.port


def _health_answer(config) -> tuple[int, dict]:
    """What the service, built with this configuration, answers on its health path."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from sample_service.app import create_app

    class Unused:  # the health path touches neither the cache nor the store
        async def close(self) -> None:
            pass

    async def ask() -> tuple[int, dict]:
        async with TestClient(TestServer(create_app(config, sessions=Unused(), items=Unused()))) as client:
            response = await client.get(HEALTH_PATH)
            return response.status, await response.json()

    return asyncio.run(ask())


def test_the_health_extension_reads_the_services_health_answer_as_healthy(inventory: Inventory):
    from provider_facts import HEALTH_EXTENSION_VERSIONS

    from refarch.service_contract import parse_service_environment

    extensions = inventory.only("azure-native:compute:VirtualMachineScaleSet").get(
        "virtualMachineProfile.extensionProfile.extensions"
    )
    (extension,) = [e for e in extensions if e["type"] == "ApplicationHealthLinux"]
    version = HEALTH_EXTENSION_VERSIONS[extension["typeHandlerVersion"]]
    assert set(extension["settings"]) <= version.settings, "a setting this version's schema does not have"
    # The service as the instances run it: built from the variables the boot script writes.
    config, _ = parse_service_environment(service_variables(boot_script(inventory)))
    status, body = _health_answer(config)
    assert status in version.healthy_statuses, (status, body)
    if version.healthy_body:
        field, healthy = version.healthy_body
        assert body.get(field) == healthy, f"{body} lacks {field}: the extension would report Unknown"


def test_the_service_logs_leave_every_instance_for_the_workspace(inventory: Inventory):
    scale_set = inventory.only("azure-native:compute:VirtualMachineScaleSet")
    identity = inventory.only("azure-native:managedidentity:UserAssignedIdentity")
    (agent,) = [
        e
        for e in scale_set.get("virtualMachineProfile.extensionProfile.extensions")
        if e["type"] == "AzureMonitorLinuxAgent"
    ]
    # Signs in as the instances' identity: no workspace key on the instances.
    login = agent["settings"]["authentication"]["managedIdentity"]
    assert login["identifier-name"] == "mi_res_id" and refers_to(login["identifier-value"], identity)
    rule = inventory.only("azure-native:monitor:DataCollectionRule")
    workspace = inventory.only("azure-native:operationalinsights:Workspace")
    assert refers_to(rule.get("destinations.logAnalytics.0.workspaceResourceId"), workspace)
    assert service_log_problems(inventory) == []
    association = inventory.only("azure-native:monitor:DataCollectionRuleAssociation")
    assert refers_to(association.get("resourceUri"), scale_set)
    assert refers_to(association.get("dataCollectionRuleId"), rule)


def service_log_problems(inventory: Inventory) -> list[str]:
    """What keeps the agent from collecting the exporter's files into the workspace, per "Collect logs from a
    text file with Azure Monitor Agent" (learn.microsoft.com/azure/azure-monitor/agents/data-collection-log-
    text): a logFiles source of format text on a declared Custom- stream, a custom table (name ending in _CL)
    in the rule's workspace with the stream's columns, and a data flow into that table. Syslog needs a
    syslog daemon, which no boot installs."""
    from azure_stack import service_logs

    problems = []
    rule = inventory.only("azure-native:monitor:DataCollectionRule")
    table = inventory.only("azure-native:operationalinsights:Table")
    workspace = inventory.only("azure-native:operationalinsights:Workspace")
    if rule.get("dataSources.syslog", None):
        problems.append("a syslog source: instances have no syslog daemon")
    sources = rule.get("dataSources.logFiles", None) or []
    if [(s["format"], s["filePatterns"]) for s in sources] != [("text", [service_logs.FILE_PATTERN])]:
        problems.append(f"no text source reading the exporter's files {service_logs.FILE_PATTERN}: {sources}")
    declared = rule.get("streamDeclarations", None) or {}
    streams = {stream for s in sources for stream in s["streams"]}
    if not streams or not all(s.startswith("Custom-") and s in declared for s in streams):
        problems.append(f"source streams {sorted(streams)} not declared as Custom- streams")
    name = table.get("tableName")
    if not name.endswith("_CL") or table.get("schema.name") != name:
        problems.append(f"table {name}: a custom table's name ends in _CL")
    if table.get("workspaceName") != workspace.name:
        problems.append(f"table {name} is not in the rule's workspace")
    columns = {c["name"]: c["type"] for c in table.get("schema.columns")}
    for stream in streams & set(declared):
        stream_columns = {c["name"]: c["type"] for c in declared[stream]["columns"]}
        if {n: t.lower() for n, t in stream_columns.items()} != {n: t.lower() for n, t in columns.items()}:
            problems.append(f"stream {stream} columns {stream_columns} differ from the table's {columns}")
        if not {"TimeGenerated", "RawData"} <= set(stream_columns):
            problems.append(f"stream {stream} lacks the text log's TimeGenerated and RawData")
    flows = [f for f in rule.get("dataFlows") if set(f["streams"]) & streams]
    if [(f.get("outputStream"), f["destinations"]) for f in flows] != [(f"Custom-{name}", ["workspace"])]:
        problems.append(f"no data flow from the file source into Custom-{name}: {flows}")
    return problems


def _syslog_rule(inventory: Inventory) -> None:
    """The rule on main at 8d4b140: the daemon facility of syslog."""
    rule = inventory.only("azure-native:monitor:DataCollectionRule")
    rule.inputs["dataSources"] = {
        "syslog": [{"name": "service-journal", "streams": ["Microsoft-Syslog"], "facilityNames": ["daemon"]}]
    }
    rule.inputs["dataFlows"] = [{"streams": ["Microsoft-Syslog"], "destinations": ["workspace"]}]
    del rule.inputs["streamDeclarations"]


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
@pytest.mark.parametrize(
    "mutate",
    [
        _syslog_rule,
        lambda inv: inv.only("azure-native:operationalinsights:Table").inputs.update(
            tableName="SampleService"
        ),
        lambda inv: (
            inv.only("azure-native:monitor:DataCollectionRule")
            .inputs["dataSources"]["logFiles"][0]
            .update(filePatterns=["/var/log/syslog"])
        ),
        lambda inv: (
            inv.only("azure-native:monitor:DataCollectionRule").inputs["dataFlows"][0].pop("outputStream")
        ),
        lambda inv: inv.only("azure-native:operationalinsights:Table").inputs["schema"]["columns"].pop(),
    ],
    ids=["syslog", "table-not-custom", "other-files", "no-output-stream", "columns-differ"],
)
def test_a_rule_that_cannot_collect_the_exporters_files_fails(inventory: Inventory, mutate):
    broken = copy.deepcopy(inventory)
    mutate(broken)
    assert service_log_problems(broken) != []


def test_autoscale_keeps_the_spec_bounds_and_cpu_target(inventory: Inventory, spec):
    autoscale = inventory.only("azure-native:monitor:AutoscaleSetting")
    scale_set = inventory.only("azure-native:compute:VirtualMachineScaleSet")
    assert refers_to(autoscale.get("targetResourceUri"), scale_set)
    (profile,) = autoscale.get("profiles")
    capacity = spec.capacity
    assert profile["capacity"] == {
        "minimum": str(capacity.min),
        "maximum": str(capacity.max),
        "default": str(capacity.desired),
    }
    out, scale_in = profile["rules"]
    assert (out["scaleAction"]["direction"], out["metricTrigger"]["threshold"]) == (
        "Increase",
        capacity.cpu_target_percent,
    )
    assert scale_in["scaleAction"]["direction"] == "Decrease"
    assert scale_in["metricTrigger"]["threshold"] < capacity.cpu_target_percent


def test_scale_set_joins_the_gateways_backend_pool(inventory: Inventory):
    gateway = inventory.only(NET + "ApplicationGateway")
    (pool,) = gateway.get("backendAddressPools")
    profile = inventory.only("azure-native:compute:VirtualMachineScaleSet").get("virtualMachineProfile")
    (ip,) = profile["networkProfile"]["networkInterfaceConfigurations"][0]["ipConfigurations"]
    (joined,) = ip["applicationGatewayBackendAddressPools"]
    gateway_name = gateway.get("applicationGatewayName")
    assert joined["id"].endswith(f"/applicationGateways/{gateway_name}/backendAddressPools/{pool['name']}")
    assert "/resourceGroups/refarch-" in joined["id"]


def test_load_balancer_is_private_waf_without_affinity_and_drains(inventory: Inventory, spec):
    gateway = inventory.only(NET + "ApplicationGateway")
    assert gateway.get("sku") == {"name": "WAF_v2", "tier": "WAF_v2"}
    (listener,) = gateway.get("httpListeners")
    assert listener["frontendIPConfiguration"]["id"].endswith("/frontendIPConfigurations/private")
    private = next(f for f in gateway.get("frontendIPConfigurations") if f["name"] == "private")
    assert ipaddress.IPv4Address(private["privateIPAddress"]) in ipaddress.IPv4Network(
        subnets(inventory)["gateway"]["addressPrefix"]
    )
    (settings,) = gateway.get("backendHttpSettingsCollection")
    assert settings["cookieBasedAffinity"] == "Disabled"
    assert settings["port"] == spec.service.port
    assert settings["connectionDraining"] == {
        "enabled": True,
        "drainTimeoutInSec": spec.service.shutdown_grace_seconds,
    }
    (probe,) = gateway.get("probes")
    assert (probe["path"], probe["match"]["statusCodes"]) == (HEALTH_PATH, ["200"])
    waf = inventory.only(NET + "WebApplicationFirewallPolicy")
    assert refers_to(gateway.get("firewallPolicy.id"), waf)
    assert waf.get("policySettings.state") == "Enabled"
    assert waf.get("managedRules.managedRuleSets.0.ruleSetType") == "Microsoft_DefaultRuleSet"


def test_api_is_the_authenticated_throttled_logged_entry_to_the_load_balancer(
    inventory: Inventory, spec, azure
):
    service = inventory.only("azure-native:apimanagement:ApiManagementService")
    assert service.get("virtualNetworkType") == "External"
    assert service.get("virtualNetworkConfiguration.subnetResourceId").endswith("/subnets/apim")
    # Off for clients and backends alike: TLS 1.0, TLS 1.1, SSL 3.0 and the 3DES cipher (names from "Manage
    # protocols and ciphers in Azure API Management", learn.microsoft.com/azure/api-management/
    # api-management-howto-manage-protocols-ciphers).
    security = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security."
    legacy = [
        f"{security}{side}{p}"
        for side in ("Protocols.", "Backend.Protocols.")
        for p in ("Tls10", "Tls11", "Ssl30")
    ]
    properties = service.get("customProperties")
    assert {
        name: properties.get(name) for name in [*legacy, f"{security}Ciphers.TripleDes168"]
    } == dict.fromkeys([*legacy, f"{security}Ciphers.TripleDes168"], "False")
    gateway = inventory.only(NET + "ApplicationGateway")
    private_ip = next(f for f in gateway.get("frontendIPConfigurations") if f["name"] == "private")
    backend = inventory.only("azure-native:apimanagement:Backend")
    assert backend.get("url") == f"http://{private_ip['privateIPAddress']}:80"
    api = inventory.only("azure-native:apimanagement:Api")
    assert api.get("subscriptionRequired") is True and api.get("protocols") == ["https"]
    policy = inventory.only("azure-native:apimanagement:ApiPolicy").get("value")
    assert f'calls="{spec.api.throttle_burst}"' in policy
    assert f'calls="{spec.api.waf_requests_per_ip_per_5_minutes}" renewal-period="300"' in policy
    assert f'backend-id="{backend.get("backendId")}"' in policy
    diagnostic = inventory.only("azure-native:apimanagement:Diagnostic")
    logger = inventory.only("azure-native:apimanagement:Logger")
    assert refers_to(diagnostic.get("loggerId"), logger)
    assert logger.get("resourceId").endswith("/Component/insights")
    assert {op.get("method") for op in inventory.of_type("azure-native:apimanagement:ApiOperation")} == {
        "GET",
        "PUT",
        "POST",
        "DELETE",
    }


def test_cache_is_tls_only_private_and_keyless(inventory: Inventory, spec):
    cluster = inventory.only("azure-native:redisenterprise:RedisEnterprise")
    assert cluster.get("minimumTlsVersion") == "1.2"
    assert cluster.get("publicNetworkAccess") == "Disabled"
    assert cluster.get("highAvailability") == ("Enabled" if spec.cache.replicas else "Disabled")
    database = inventory.only("azure-native:redisenterprise:Database")
    assert database.get("clientProtocol") == "Encrypted"
    assert database.get("accessKeysAuthentication") == "Disabled"
    identity = inventory.only("azure-native:managedidentity:UserAssignedIdentity")
    assignment = inventory.only("azure-native:redisenterprise:AccessPolicyAssignment")
    from azure_stack.offline import mock_guid

    assert assignment.get("user.objectId") == mock_guid(f"{identity.name}/principal")


def test_item_store_is_keyless_private_backed_up_with_ttl(inventory: Inventory, spec):
    account = inventory.only("azure-native:cosmosdb:DatabaseAccount")
    assert account.get("disableLocalAuth") is True
    assert account.get("publicNetworkAccess") == "Disabled"
    assert account.get("minimalTlsVersion") == "Tls12"
    assert account.get("backupPolicy.type") == "Continuous"
    assert account.get("consistencyPolicy.defaultConsistencyLevel") == "Strong"
    assert account.get("locations.0.isZoneRedundant") is spec.production
    container = inventory.only("azure-native:cosmosdb:SqlResourceSqlContainer")
    assert container.get("resource.partitionKey.paths") == ["/id"]
    assert container.get("resource.defaultTtl") == -1
    role = inventory.only("azure-native:cosmosdb:SqlResourceSqlRoleAssignment")
    assert role.get("scope").endswith("/dbs/service/colls/items")
    # The fleet's own role on the account, not the built-in Data Contributor (test_azure_final_review.py).
    definition = inventory.only("azure-native:cosmosdb:SqlResourceSqlRoleDefinition")
    assert role.get("roleDefinitionId").endswith(f"/sqlRoleDefinitions/{definition.get('roleDefinitionId')}")


def test_storage_is_private_tls12_versioned_with_soft_delete(inventory: Inventory):
    files = inventory.named("files")
    assert files.get("allowBlobPublicAccess") is False
    assert files.get("allowSharedKeyAccess") is False
    assert files.get("publicNetworkAccess") == "Disabled"
    for account in inventory.of_type("azure-native:storage:StorageAccount"):
        assert account.get("minimumTlsVersion") == "TLS1_2"
        assert account.get("enableHttpsTrafficOnly") is True
        assert account.get("allowBlobPublicAccess") is False
        assert account.get("networkRuleSet.defaultAction") == "Deny"
    for blobs in inventory.of_type("azure-native:storage:BlobServiceProperties"):
        assert blobs.get("isVersioningEnabled") is True
        assert blobs.get("deleteRetentionPolicy.enabled") is True
        assert blobs.get("containerDeleteRetentionPolicy.enabled") is True
    releases = inventory.named("releases")
    assert [rule["iPAddressOrRange"] for rule in releases.get("networkRuleSet.ipRules")] == ["203.0.113.0/24"]
    assert releases.get("networkRuleSet.virtualNetworkRules.0.virtualNetworkResourceId").endswith(
        "/subnets/app"
    )


def test_every_data_service_is_reached_through_a_private_endpoint(inventory: Inventory):
    endpoints = inventory.of_type(NET + "PrivateEndpoint")
    targets = {
        e.get("privateLinkServiceConnections.0.privateLinkServiceId").rsplit("/", 1)[1]: e for e in endpoints
    }
    assert set(targets) == {"vault", "files", "items", "sessions"}
    assert all(e.get("subnet.id").endswith("/subnets/data") for e in endpoints)
    zones = inventory.count(NET + "PrivateDnsZoneGroup")
    assert zones == len(endpoints)


def test_roles_are_scoped_to_one_resource_each(inventory: Inventory):
    for role in inventory.of_type("azure-native:authorization:RoleAssignment"):
        scope = role.get("scope")
        assert "/providers/" in scope, f"{role.name} is scoped to a whole group or subscription: {scope}"
    scopes = {r.name: r.get("scope") for r in inventory.of_type("azure-native:authorization:RoleAssignment")}
    assert scopes["fleet-reads-releases"].endswith("/blobServices/default/containers/releases")
    assert scopes["api-reads-vault-secrets"].endswith("/Vault/vault")


def test_key_vault_uses_roles_and_is_private(inventory: Inventory, spec):
    vault = inventory.only("azure-native:keyvault:Vault")
    assert vault.get("properties.enableRbacAuthorization") is True
    assert vault.get("properties.publicNetworkAccess") == "Disabled"
    assert vault.get("properties.enableSoftDelete") is True
    assert vault.get("properties.enablePurgeProtection", None) is (True if spec.production else None)


def test_every_service_with_diagnostics_sends_them_to_the_workspace(inventory: Inventory):
    workspace = inventory.only("azure-native:operationalinsights:Workspace")
    settings = inventory.of_type("azure-native:monitor:DiagnosticSetting")
    assert settings and all(refers_to(s.get("workspaceId"), workspace) for s in settings)
    covered = {s.get("resourceUri").split("/providers/", 1)[1] for s in settings}
    expected = {
        "network/ApplicationGateway/agw",
        "monitor/AutoscaleSetting/fleet-autoscale",
        "network/PublicIPAddress/agw-ip",
        "apimanagement/ApiManagementService/api",
        "keyvault/Vault/vault",
        "cosmosdb/DatabaseAccount/items",
        "redisenterprise/Database/sessions-database",
        "redisenterprise/RedisEnterprise/sessions",
        "storage/StorageAccount/files/blobServices/default",
        "storage/StorageAccount/releases/blobServices/default",
        *(f"network/NetworkSecurityGroup/{tier}-nsg" for tier in ("gateway", "apim", "app", "data")),
    }
    assert covered == expected


def test_alerts_cover_errors_latency_health_cache_and_store_and_notify_on_call(
    inventory: Inventory, spec, azure, environment
):
    group = inventory.only("azure-native:monitor:ActionGroup")
    # The stack's own recipient, which takes precedence over the spec's alarms.email.
    assert group.get("emailReceivers.0.emailAddress") == azure.config(environment)["refarch-azure:alertEmail"]
    alarms = spec.alarms
    metric = {a.name: a for a in inventory.of_type("azure-native:monitor:MetricAlert")}
    logs = {a.name: a for a in inventory.of_type("azure-native:monitor:ScheduledQueryRule")}
    assert set(metric) == {
        "healthy-hosts",
        "cache-cpu",
        "cache-server-load",
        "cache-memory",
        "store-throttles",
    }
    assert set(logs) == {"errors-5xx", "api-errors-5xx", "latency-p99"}
    thresholds = {name: a.get("criteria.allOf.0.threshold") for name, a in metric.items()}
    assert thresholds == {
        "healthy-hosts": spec.capacity.min,
        "cache-cpu": alarms.cache_cpu_percent,
        "cache-server-load": alarms.cache_cpu_percent,
        "cache-memory": alarms.cache_memory_percent,
        "store-throttles": alarms.store_throttled_requests,
    }
    for name in ("errors-5xx", "api-errors-5xx"):
        assert f"where percent >= {alarms.error_5xx_percent}" in logs[name].get("criteria.allOf.0.query")
    # TimeTaken is in seconds: the spec's milliseconds must be compared against it converted.
    assert f"p99 * 1000 >= {alarms.p99_latency_ms}" in logs["latency-p99"].get("criteria.allOf.0.query")
    for alert in metric.values():
        assert refers_to(alert.get("actions.0.actionGroupId"), group)
    for alert in logs.values():
        assert refers_to(alert.get("actions.actionGroups.0"), group)


def test_every_role_the_fleet_identity_holds_is_one_the_instances_use(inventory: Inventory):
    """A data role for the fleet only where the boot script or the service's configured backends read or
    write: the boot script downloads the bundle (read only); a blob container named in the service's
    variables would be its files backend. Cosmos DB and the cache grant through their own data-plane
    assignments (checked with the service settings)."""
    import re

    from azure_stack.offline import mock_guid
    from azure_stack.roles import ROLE_NAMES, STORAGE_BLOB_DATA_READER

    principal = inventory.only("azure-native:managedidentity:UserAssignedIdentity").name

    script = boot_script(inventory)
    commands = script.replace("\\\n", " ").splitlines()  # continued lines joined
    downloads = [line for line in commands if re.search(r"\bfetch '", line)]
    configured = " ".join(service_variables(script).values())
    fleet_roles = [
        r
        for r in inventory.of_type("azure-native:authorization:RoleAssignment")
        if r.get("principalId") == mock_guid(f"{principal}/principal")
    ]
    assert fleet_roles, "the fleet cannot even read its bundle"
    for role in fleet_roles:
        role_id = role.get("roleDefinitionId").rsplit("/", 1)[1]
        scope = re.search(
            r"/StorageAccount/([^/]+)/blobServices/default/containers/([^/]+)$", role.get("scope")
        )
        assert scope, f"{role.name}: {ROLE_NAMES[role_id]} on {role.get('scope')}, which no instance uses"
        url = f"https://{scope[1]}.blob.core.windows.net/{scope[2]}/"
        read_by_boot = any(url in line for line in downloads) and role_id == STORAGE_BLOB_DATA_READER
        assert read_by_boot or url in configured, (
            f"{role.name}: {ROLE_NAMES[role_id]} on {url}, which neither the boot script nor the service uses"
        )
