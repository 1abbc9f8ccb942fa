"""One environment of the reference architecture on Azure: the tiers, wired API Management -> Application
Gateway -> scale set -> cache and store. Everything is validated before the first resource is registered."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.resources as resources

from azure_stack import item_store
from azure_stack.alerts import ServiceAlerts, ServiceAlertsArgs
from azure_stack.api_gateway import PublicApi, PublicApiArgs
from azure_stack.fleet import StatelessFleet, StatelessFleetArgs
from azure_stack.identity import ServiceIdentity, ServiceIdentityArgs
from azure_stack.item_store import ItemStore, ItemStoreArgs
from azure_stack.load_balancer import ServiceLoadBalancer, ServiceLoadBalancerArgs
from azure_stack.network import ServiceNetwork, ServiceNetworkArgs
from azure_stack.object_storage import ObjectStorage, ObjectStorageArgs
from azure_stack.placement import Placement
from azure_stack.service_settings import service_environment
from azure_stack.session_cache import SessionCache, SessionCacheArgs
from azure_stack.settings import AzureSettings, ProviderSettings, production_problems
from azure_stack.telemetry import ServiceTelemetry, ServiceTelemetryArgs
from refarch.bundle import Bundle
from refarch.errors import SpecError
from refarch.pulumi_stack import (
    environment_spec,
    read_settings,
    release_bundle,
    stack_settings,
    unknown_keys,
)
from refarch.spec import EnvironmentSpec


def validated() -> tuple[EnvironmentSpec, AzureSettings, str]:
    """The spec, this project's settings and the location, or one SpecError naming every problem."""
    config = pulumi.Config()
    spec = environment_spec(config)
    provider = pulumi.Config("azure-native")
    problems = unknown_keys(config, AzureSettings)
    location = settings = None
    try:
        location = stack_settings(
            spec.name, provider.name, ProviderSettings, read_settings(provider, ProviderSettings)
        ).location
    except SpecError as exc:
        problems += exc.problems
    try:
        settings = stack_settings(spec.name, config.name, AzureSettings, read_settings(config, AzureSettings))
    except SpecError as exc:
        problems += exc.problems
    if settings is not None:
        problems += production_problems(spec, settings, config.name)
    if problems or settings is None or location is None:
        raise SpecError(spec.name, problems)
    return spec, settings, location


class StatelessService(pulumi.ComponentResource):
    """The whole environment: its resource group and one component per tier."""

    def __init__(
        self, name: str, spec: EnvironmentSpec, settings: AzureSettings, location: str, bundle: Bundle
    ) -> None:
        super().__init__("refarch:azure:StatelessService", name, None)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"environment": spec.name, "architecture": "stateless-reference"}
        group = resources.ResourceGroup(
            "resource-group",
            resource_group_name=f"{settings.name_prefix}-{spec.name}",
            location=location,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=spec.production),
        )
        client = authorization.get_client_config_output()
        placement = Placement(
            spec=spec,
            settings=settings,
            location=location,
            resource_group_name=group.name,
            resource_group_id=group.id,
            subscription_id=client.subscription_id,
            tenant_id=client.tenant_id,
            tags=tags,
        )
        telemetry = ServiceTelemetry("telemetry", ServiceTelemetryArgs(placement), child)
        workspace_id = telemetry.workspace.id
        net = ServiceNetwork("network", ServiceNetworkArgs(placement, workspace_id), child)
        data_subnet = net.subnet_ids["data"]
        identity = ServiceIdentity(
            "identity",
            ServiceIdentityArgs(
                placement, workspace_id, data_subnet, net.dns_zone_ids["vault"], net.vault_endpoints.id
            ),
            child,
        )
        principal_id = identity.identity.principal_id
        storage = ObjectStorage(
            "object-storage",
            ObjectStorageArgs(
                placement,
                workspace_id,
                principal_id,
                data_subnet,
                net.subnet_ids["app"],
                net.dns_zone_ids["blob"],
                bundle,
            ),
            child,
        )
        store = ItemStore(
            "item-store",
            ItemStoreArgs(placement, workspace_id, principal_id, data_subnet, net.dns_zone_ids["Sql"]),
            child,
        )
        cache = SessionCache(
            "session-cache",
            SessionCacheArgs(
                placement, workspace_id, principal_id, data_subnet, net.dns_zone_ids["redisEnterprise"]
            ),
            child,
        )
        load_balancer = ServiceLoadBalancer(
            "load-balancer",
            ServiceLoadBalancerArgs(placement, workspace_id, net.subnet_ids["gateway"]),
            child,
        )
        fleet = StatelessFleet(
            "fleet",
            StatelessFleetArgs(
                placement,
                subnet_id=net.subnet_ids["app"],
                backend_pool_id=load_balancer.backend_pool_id,
                identity_id=identity.identity.id,
                identity_client_id=identity.identity.client_id,
                release=storage.release,
                bundle_url=storage.bundle_url,
                arch=bundle.platform.arch,
                service_environment=service_environment(
                    spec,
                    cache_host=cache.host,
                    identity_client_id=identity.identity.client_id,
                    identity_principal_id=principal_id,
                    cosmos_endpoint=store.endpoint,
                    cosmos_database=item_store.DATABASE,
                    cosmos_container=item_store.CONTAINER,
                ),
                workspace_id=workspace_id,
                log_table_name=telemetry.service_log_table.name,
            ),
            # Instances join the gateway's pool, download the bundle and use the cache and store from their
            # first boot: all of those, and the identity's roles on them, exist first.
            pulumi.ResourceOptions(parent=self, depends_on=[load_balancer, storage, cache, store]),
        )
        api = PublicApi(
            "api",
            PublicApiArgs(
                placement,
                workspace_id,
                net.subnet_ids["apim"],
                load_balancer.private_ip,
                telemetry.insights.id,
                telemetry.insights.instrumentation_key,
                identity.vault.id,
            ),
            child,
        )
        ServiceAlerts(
            "alerts",
            ServiceAlertsArgs(
                placement,
                workspace_id,
                telemetry.action_group.id,
                load_balancer.gateway.id,
                cache.cluster.id,
                store.account.id,
            ),
            child,
        )
        self.outputs = {
            "apiUrl": api.url,
            "resourceGroup": group.name,
            "scaleSet": fleet.scale_set.name,
            "loadBalancerPrivateIp": load_balancer.private_ip,
            "cacheHost": cache.host,
            "cosmosEndpoint": store.endpoint,
            "filesAccount": storage.files.name,
            "vaultUri": identity.vault.properties.vault_uri,
            "actionGroup": telemetry.action_group.id,
        }
        self.register_outputs(self.outputs)


def main() -> None:
    spec, settings, location = validated()
    bundle = release_bundle(spec.name, "azure", "azure.vm_size", spec.azure.vm_size)
    service = StatelessService("service", spec, settings, location, bundle)
    for name, value in service.outputs.items():
        pulumi.export(name, value)
