"""One environment of the reference architecture on Azure: the tiers, wired API Management -> Application
Gateway -> scale set -> cache and store. Everything is validated before the first resource is registered."""

from __future__ import annotations

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
from azure_stack.placement import Placement, zone_names
from azure_stack.service_settings import service_environment
from azure_stack.session_cache import SessionCache, SessionCacheArgs
from azure_stack.settings import AzureSettings, ProviderSettings, settings_problems
from azure_stack.telemetry import ServiceTelemetry, ServiceTelemetryArgs
from azure_stack.tier import Root
from refarch.bundle import Bundle
from refarch.spec import EnvironmentSpec
from refarch_pulumi.stack import StackPipeline, validated_stack

PIPELINE = StackPipeline(
    cloud="azure",
    provider_namespace="azure-native",
    provider_model=ProviderSettings,
    settings_model=AzureSettings,
    config_checks=settings_problems,
    instance_field="azure.vm_size",
)


class StatelessService(Root):
    """The whole environment: its resource group and one component per tier. The one reader of the spec and
    the stack's config here: each tier gets the values it needs."""

    def __init__(
        self, name: str, spec: EnvironmentSpec, settings: AzureSettings, location: str, bundle: Bundle
    ) -> None:
        super().__init__(name)
        child = self.child()
        tags = {"environment": spec.name, "architecture": "stateless-reference"}
        group = resources.ResourceGroup(
            "resource-group",
            resource_group_name=f"{settings.name_prefix}-{spec.name}",
            location=location,
            tags=tags,
            opts=self.child(protect=spec.production),
        )
        client = authorization.get_client_config_output()
        placement = Placement(
            name_prefix=settings.name_prefix,
            environment=spec.name,
            location=location,
            zones=zone_names(spec.zones),
            resource_group_name=group.name,
            resource_group_id=group.id,
            subscription_id=client.subscription_id,
            tenant_id=client.tenant_id,
            tags=tags,
        )
        telemetry = ServiceTelemetry(
            "telemetry",
            ServiceTelemetryArgs(
                placement=placement,
                log_retention_days=spec.retention.log_days,
                # The spec's address only when the stack names none (`or` reads it only then).
                alert_email=settings.alert_email or spec.alarms.email,
            ),
            child,
        )
        workspace_id = telemetry.workspace.id
        net = ServiceNetwork(
            "network",
            ServiceNetworkArgs(
                placement=placement,
                workspace_id=workspace_id,
                vnet_cidr=spec.vpc_cidr,
                service_port=spec.service.port,
            ),
            child,
        )
        data_subnet = net.subnet_ids["data"]
        identity = ServiceIdentity(
            "identity",
            ServiceIdentityArgs(
                placement=placement,
                workspace_id=workspace_id,
                data_subnet_id=data_subnet,
                vault_dns_zone_id=net.dns_zone_ids["vault"],
                vault_endpoints_id=net.vault_endpoints.id,
                production=spec.production,
            ),
            child,
        )
        principal_id = identity.identity.principal_id
        storage = ObjectStorage(
            "object-storage",
            ObjectStorageArgs(
                placement=placement,
                workspace_id=workspace_id,
                reader_principal_id=principal_id,
                data_subnet_id=data_subnet,
                app_subnet_id=net.subnet_ids["app"],
                blob_dns_zone_id=net.dns_zone_ids["blob"],
                bundle=bundle,
                retention_days=spec.retention.access_log_days,
                production=spec.production,
                deployer_ip_ranges=settings.deployer_ip_ranges,
            ),
            child,
        )
        store = ItemStore(
            "item-store",
            ItemStoreArgs(
                placement=placement,
                workspace_id=workspace_id,
                writer_principal_id=principal_id,
                data_subnet_id=data_subnet,
                dns_zone_id=net.dns_zone_ids["Sql"],
                store=spec.store,
                production=spec.production,
                max_throughput=spec.azure.cosmos_max_throughput,
                restored_account=settings.items_account,
                draining_account=settings.items_account_draining,
            ),
            child,
        )
        cache = SessionCache(
            "session-cache",
            SessionCacheArgs(
                placement=placement,
                workspace_id=workspace_id,
                user_principal_id=principal_id,
                data_subnet_id=data_subnet,
                dns_zone_id=net.dns_zone_ids["redisEnterprise"],
                cache=spec.cache,
                sku=spec.azure.cache_sku,
            ),
            child,
        )
        load_balancer = ServiceLoadBalancer(
            "load-balancer",
            ServiceLoadBalancerArgs(
                placement=placement,
                workspace_id=workspace_id,
                subnet_id=net.subnet_ids["gateway"],
                vnet_cidr=spec.vpc_cidr,
                service_port=spec.service.port,
                shutdown_grace_seconds=spec.service.shutdown_grace_seconds,
                min_capacity=spec.azure.gateway_min_capacity,
                max_capacity=spec.azure.gateway_max_capacity,
                waf_mode=spec.azure.waf_mode,
            ),
            child,
        )
        fleet = StatelessFleet(
            "fleet",
            StatelessFleetArgs(
                placement=placement,
                subnet_id=net.subnet_ids["app"],
                backend_pool_id=load_balancer.backend_pool_id,
                identity_id=identity.identity.id,
                identity_client_id=identity.identity.client_id,
                release=storage.release,
                bundle_url=storage.bundle_url,
                arch=bundle.platform.arch,
                service_environment=service_environment(
                    spec.service,
                    cache_host=cache.host,
                    identity_client_id=identity.identity.client_id,
                    identity_principal_id=principal_id,
                    cosmos_endpoint=store.endpoint,
                    cosmos_database=item_store.DATABASE,
                    cosmos_container=item_store.CONTAINER,
                ),
                workspace_id=workspace_id,
                log_table_name=telemetry.service_log_table.name,
                capacity=spec.capacity,
                service=spec.service,
                vm_size=spec.azure.vm_size,
                encryption_at_host=spec.azure.encryption_at_host,
            ),
            # Instances join the gateway's pool, download the bundle and use the cache and store from their
            # first boot: all of those, and the identity's roles on them, exist first.
            self.child(depends_on=[load_balancer, storage, cache, store]),
        )
        api = PublicApi(
            "api",
            PublicApiArgs(
                placement=placement,
                workspace_id=workspace_id,
                subnet_id=net.subnet_ids["apim"],
                load_balancer_ip=load_balancer.private_ip,
                insights_id=telemetry.insights.id,
                insights_instrumentation_key=telemetry.insights.instrumentation_key,
                vault_id=identity.vault.id,
                throttling=spec.api,
                sku=spec.azure.apim_sku,
                units=spec.azure.apim_capacity,
                sampling_percent=spec.azure.insights_sampling_percent,
                publisher_name=settings.publisher_name,
                publisher_email=settings.publisher_email,
            ),
            child,
        )
        ServiceAlerts(
            "alerts",
            ServiceAlertsArgs(
                placement=placement,
                workspace_id=workspace_id,
                action_group_id=telemetry.action_group.id,
                gateway_id=load_balancer.gateway.id,
                cache_id=cache.cluster.id,
                store_id=store.serving_id,
                thresholds=spec.alarms,
                min_healthy_hosts=spec.capacity.min,
            ),
            child,
        )
        self.export(
            {
                "apiUrl": api.url,
                "resourceGroup": group.name,
                "scaleSet": fleet.scale_set.name,
                "loadBalancerPrivateIp": load_balancer.private_ip,
                "cacheHost": cache.host,
                "cosmosEndpoint": store.endpoint,
                "cosmosAccount": store.serving_name,
                "filesAccount": storage.files.name,
                "vaultUri": identity.vault.properties.vault_uri,
                "actionGroup": telemetry.action_group.id,
                # Who to page when a runbook says Escalation, and how (the spec's; null when unset): a fact
                # the runbooks quote, in no resource.
                "escalation": spec.alarms.escalation,
            }
        )


def main() -> None:
    stack = validated_stack(PIPELINE)
    StatelessService("service", stack.spec, stack.settings, stack.provider.location, stack.bundle)
