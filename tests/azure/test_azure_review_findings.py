"""What an independent Azure review found (issue 10), each pinned on every environment's inventory: the
fleet's patching, rollout and deletion behaviour, API Management's network and surface, the cache's
persistence, the alerts' signal, and the cost settings."""

from __future__ import annotations

import math

from azure_queries import allowed_inbound, gateway_detection_seconds, nsg, refers_to, subnets
from provider_facts import APIM_INBOUND, AUTOMATIC_PATCHING_IMAGES, TERMINATE_NOTICE_MINUTES

from refarch.boot import stop_timeout_seconds
from refarch.inventory import Inventory

AZ = "azure-native:"


def _scale_set(inventory: Inventory):
    return inventory.only(AZ + "compute:VirtualMachineScaleSet")


def test_platform_patching_only_on_images_that_support_it(inventory: Inventory):
    profile = _scale_set(inventory).get("virtualMachineProfile")
    image = profile["storageProfile"]["imageReference"]
    patch = profile["osProfile"]["linuxConfiguration"]["patchSettings"]
    supported = (image["publisher"], image["offer"], image["sku"]) in AUTOMATIC_PATCHING_IMAGES
    if not supported:
        assert patch == {"patchMode": "ImageDefault", "assessmentMode": "ImageDefault"}


def test_one_unhealthy_instance_of_the_smallest_fleet_does_not_stop_a_rollout(inventory: Inventory, spec):
    policy = _scale_set(inventory).get("upgradePolicy.rollingUpgradePolicy")
    # A rolling upgrade stops when more than this share of the fleet is unhealthy: at the fleet's minimum,
    # one instance is 100/min percent of it.
    allowed = math.floor(policy["maxUnhealthyInstancePercent"] * spec.capacity.min / 100)
    assert allowed >= 1, f"min {spec.capacity.min}: {policy['maxUnhealthyInstancePercent']}% is no instance"
    assert 5 <= policy["maxUnhealthyInstancePercent"] <= 100


def test_deletions_wait_for_the_service_to_drain_and_stop(inventory: Inventory, spec):
    notice = _scale_set(inventory).get(
        "virtualMachineProfile.scheduledEventsProfile.terminateNotificationProfile"
    )
    assert notice["enable"] is True
    minutes = int(notice["notBeforeTimeout"].removeprefix("PT").removesuffix("M"))
    low, high = TERMINATE_NOTICE_MINUTES
    assert low <= minutes <= high
    # The watcher first waits out the gateway's detection of the failing health path, then the stop.
    assert minutes * 60 >= gateway_detection_seconds() + stop_timeout_seconds(spec.service)


def test_api_management_subnet_admits_every_port_its_units_need(inventory: Inventory):
    rules = [r for r in nsg(inventory, "apim").get("securityRules") if r["access"] == "Allow"]
    for source, protocol, port in APIM_INBOUND:
        assert any(
            r["sourceAddressPrefix"] == source
            and r["protocol"] in (protocol, "*")
            and str(port) in (r.get("destinationPortRanges") or [r.get("destinationPortRange")])
            for r in rules
        ), f"apim-nsg does not admit {protocol} {port} from {source}"


def test_api_management_reaches_the_key_vault_endpoint_and_nothing_else_in_the_data_tier(
    inventory: Inventory,
):
    apim = subnets(inventory)["apim"]["addressPrefix"]
    rules = [r for r in nsg(inventory, "data").get("securityRules") if r["sourceAddressPrefix"] == apim]
    (rule,) = rules
    assert (rule["access"], rule["protocol"], rule["destinationPortRanges"]) == ("Allow", "Tcp", ["443"])
    (group,) = rule["destinationApplicationSecurityGroups"]
    asg = inventory.only(AZ + "network:ApplicationSecurityGroup")
    assert refers_to(group["id"], asg)
    members = [
        e.get("privateLinkServiceConnections.0.privateLinkServiceId").rsplit("/", 1)[1]
        for e in inventory.of_type(AZ + "network:PrivateEndpoint")
        if any(refers_to(g["id"], asg) for g in e.inputs.get("applicationSecurityGroups") or [])
    ]
    assert members == ["vault"]
    assert (apim, ("443",)) in allowed_inbound(nsg(inventory, "data"))


def test_api_management_portals_are_off(inventory: Inventory):
    service = inventory.only(AZ + "apimanagement:ApiManagementService")
    assert service.get("developerPortalStatus") == "Disabled"
    assert service.get("legacyPortalStatus") == "Disabled"


def test_cache_persists_only_where_a_replica_exists(inventory: Inventory, spec):
    database = inventory.only(AZ + "redisenterprise:Database")
    cluster = inventory.only(AZ + "redisenterprise:RedisEnterprise")
    persistence = database.inputs.get("persistence")
    if cluster.get("highAvailability") == "Disabled":
        assert persistence is None
    else:
        assert persistence == (
            {"rdbEnabled": True, "rdbFrequency": "1h"} if spec.cache.snapshot_retention_days else None
        )


def test_host_alert_fires_below_the_fleets_minimum_not_on_booting_instances(inventory: Inventory, spec):
    alerts = {a.name: a for a in inventory.of_type(AZ + "monitor:MetricAlert")}
    assert "unhealthy-hosts" not in alerts
    (criterion,) = alerts["healthy-hosts"].get("criteria.allOf")
    assert criterion["metricName"] == "HealthyHostCount" and criterion["timeAggregation"] == "Average"
    assert (criterion["operator"], criterion["threshold"]) == ("LessThan", spec.capacity.min)
    # Longer than a replacement takes to boot and pass its health check.
    from azure_stack.boot import BOOT_BUDGET

    window = int(alerts["healthy-hosts"].get("windowSize").removeprefix("PT").removesuffix("M"))
    assert window * 60 >= BOOT_BUDGET.seconds


def test_cache_alerts_watch_cpu_and_server_load_at_the_metrics_grain(inventory: Inventory):
    alerts = {a.name: a for a in inventory.of_type(AZ + "monitor:MetricAlert")}
    metrics = {alerts[name].get("criteria.allOf.0.metricName") for name in ("cache-cpu", "cache-server-load")}
    assert metrics == {"percentProcessorTime", "serverLoad"}
    for name in ("cache-cpu", "cache-server-load", "cache-memory"):
        assert alerts[name].get("evaluationFrequency") == "PT5M"


def test_request_logs_are_sampled_where_the_stack_says_and_errors_always_kept(
    inventory: Inventory, azure, environment, spec
):
    diagnostic = inventory.only(AZ + "apimanagement:Diagnostic")
    percent = spec.azure.insights_sampling_percent
    assert diagnostic.get("sampling.percentage") == percent
    assert diagnostic.get("alwaysLog") == "allErrors"
    # Production logs every request in the gateway and load balancer logs already; App Insights samples.
    if spec.production:
        assert percent <= 10


def test_dev_gateway_reserves_no_capacity(inventory: Inventory, spec, azure, environment):
    gateway = inventory.only(AZ + "network:ApplicationGateway")
    minimum = gateway.get("autoscaleConfiguration.minCapacity")
    assert minimum == spec.azure.gateway_min_capacity
    if environment == "dev":
        assert minimum == 0


def test_every_shutdown_the_spec_allows_fits_a_terminate_notice_after_leaving_the_gateway(spec, azure):
    deletion_notice = azure.module("fleet").deletion_notice
    bounds = type(spec.service).model_fields["shutdown_grace_seconds"].metadata
    shortest = min(bound.ge for bound in bounds if hasattr(bound, "ge"))
    longest = max(bound.le for bound in bounds if hasattr(bound, "le"))
    low, high = TERMINATE_NOTICE_MINUTES
    for grace in range(shortest, longest + 1):
        service = spec.service.model_copy(update={"shutdown_grace_seconds": grace})
        minutes = int(deletion_notice(service)[2:-1])
        assert low <= minutes <= high
        # The watcher waits out the gateway's detection before it stops the service.
        assert minutes * 60 >= gateway_detection_seconds() + stop_timeout_seconds(service), grace
