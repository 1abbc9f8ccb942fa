"""One environment of the reference architecture on GCP: gateway -> load balancer -> fleet -> cache and store.

Everything is read and validated first (the spec, then the stack config), so a bad value stops the program
before a single resource is registered.
"""

from __future__ import annotations

import pulumi

from gcp_stack.api_gateway import ApiArgs, PublicApi, backend_audience
from gcp_stack.edge_rate import checked_edge_rate, edge_rate_problems
from gcp_stack.fleet import FleetArgs, StatelessFleet, fleet_zones
from gcp_stack.identity import IdentityArgs, ServiceIdentities
from gcp_stack.item_store import ItemStore, ItemStoreArgs
from gcp_stack.load_balancer import LoadBalancerArgs, ServiceLoadBalancer, draining_seconds
from gcp_stack.monitoring import MonitoringArgs, ServiceMonitoring
from gcp_stack.network import NetworkArgs, ServiceNetwork
from gcp_stack.object_storage import ObjectStorage, ObjectStorageArgs
from gcp_stack.openapi import requests_per_minute
from gcp_stack.service_environment import service_environment
from gcp_stack.session_cache import CACHE_TLS_PORT, SessionCache, SessionCacheArgs
from gcp_stack.settings import GcpSettings, Provider, StackSettings, cross_checks
from gcp_stack.tier import Root
from refarch.bundle import Bundle
from refarch.spec import EnvironmentSpec
from refarch_pulumi.stack import StackPipeline, validated_stack

PIPELINE = StackPipeline(
    cloud="gcp",
    provider_namespace="gcp",
    provider_model=Provider,
    settings_model=GcpSettings,
    config_checks=cross_checks,
    instance_field="gcp.machine_type",
    spec_checks=edge_rate_problems,
)


def main() -> None:
    stack = validated_stack(PIPELINE)
    spec, bundle = stack.spec, stack.bundle
    settings = StackSettings(provider=stack.provider, gcp=stack.settings)
    StatelessService("service", spec, settings, bundle)


class StatelessService(Root):
    """The whole environment, one component per tier. The tiers were registered at the stack's root before
    this component existed: each carries an alias to that parent, so `pulumi up` moves them (and through
    them their children) under it instead of replacing anything."""

    def __init__(self, name: str, spec: EnvironmentSpec, settings: StackSettings, bundle: Bundle) -> None:
        super().__init__(name)
        # Where each tier was before this component existed (the stack's root): its previous URN.
        tier = self.child(aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
        zones = fleet_zones(spec, settings)
        audience = backend_audience(settings.gcp.backend_domain)

        identities = ServiceIdentities(
            "identity",
            IdentityArgs(
                environment=spec.name, project=settings.project, api_callers=settings.gcp.api_callers
            ),
            tier,
        )
        fleet_member = identities.fleet.member
        network = ServiceNetwork(
            "network",
            NetworkArgs(
                environment=spec.name,
                vpc_cidr=spec.vpc_cidr,
                region=settings.region,
                fleet_service_account=identities.fleet.email,
                service_port=spec.service.port,
                cache_port=CACHE_TLS_PORT,
                zones=zones,
            ),
            tier,
        )
        storage = ObjectStorage(
            "object-storage",
            ObjectStorageArgs(
                environment=spec.name, region=settings.region, noncurrent_days=spec.retention.access_log_days
            ),
            tier,
        )
        store = ItemStore(
            "item-store",
            ItemStoreArgs(
                environment=spec.name,
                production=spec.production,
                store=spec.store,
                project=settings.project,
                region=settings.region,
                user=fleet_member,
                restored_database=settings.gcp.items_database,
                draining_database=settings.gcp.items_database_draining,
            ),
            tier,
        )
        cache = SessionCache(
            "session-cache",
            SessionCacheArgs(
                environment=spec.name,
                production=spec.production,
                cache=spec.cache,
                memory_gb=spec.gcp.cache_memory_gb,
                redis_version=spec.gcp.redis_version,
                region=settings.region,
                zones=settings.gcp.zones,
                network=network.vpc.id,
                reserved_range=network.cache_range,
                reader=fleet_member,
            ),
            tier,
        )
        environment = service_environment(
            spec,
            project=settings.project,
            cache_host=cache.host,
            cache_port=CACHE_TLS_PORT,
            cache_auth_secret=cache.auth_secret_version,
            database=store.serving,
            gateway_audience=audience,
            gateway_account_id=identities.gateway.unique_id,
        )
        fleet = StatelessFleet(
            "fleet",
            FleetArgs(
                environment=spec.name,
                region=settings.region,
                zones=zones,
                machine_type=spec.gcp.machine_type,
                capacity=spec.capacity,
                service=spec.service,
                subnet=network.subnet.id,
                service_account=identities.fleet.email,
                service_account_member=fleet_member,
                service_environment=environment,
                cache_ca=cache.ca_certificate,
                bundle=bundle,
                prerequisites=[
                    *identities.fleet_grants,
                    cache.reader_grant,
                    cache.auth_secret_value,
                    *store.prerequisites,
                ],
            ),
            tier,
        )
        load_balancer = ServiceLoadBalancer(
            "load-balancer",
            LoadBalancerArgs(
                environment=spec.name,
                production=spec.production,
                edge_rate=checked_edge_rate(spec),
                draining_seconds=draining_seconds(spec.service),
                backend_domain=settings.gcp.backend_domain,
                instance_group=fleet.instance_group,
                health_check=fleet.health_check.id,
            ),
            tier,
        )
        api = PublicApi(
            "api",
            ApiArgs(
                environment=spec.name,
                region=settings.region,
                requests_per_minute=requests_per_minute(spec),
                backend_address=load_balancer.url,
                backend_audience=audience,
                gateway_account=identities.gateway.email,
                client_account=identities.api_client.email,
            ),
            tier,
        )
        ServiceMonitoring(
            "monitoring",
            MonitoringArgs(
                environment=spec.name,
                project=settings.project,
                alarms=spec.alarms,
                retention=spec.retention,
                alert_channels=settings.gcp.alert_channels,
                alert_email=settings.gcp.alert_email,
                runbook_base_url=settings.gcp.runbook_base_url,
                gateway_host=api.host,
                backend_service=load_balancer.backend.name,
                instance_group=fleet.instance_group,
                gateway_id=api.gateway.gateway_id,
                cache_instance_id=cache.instance.id,
                database=store.serving,
                draining_database=store.draining,
                own_database=store.database.name,
            ),
            tier,
        )

        self.export(
            {
                "apiUrl": api.url,
                "apiClientAccount": identities.api_client.email,
                "apiClientAudience": api.client_audience,
                "apiKey": api.api_key.name,
                "loadBalancerAddress": load_balancer.address.address,
                "backendUrl": load_balancer.url,
                "instanceGroup": fleet.instance_group,
                "cacheHost": cache.host,
                "cacheAuthSecret": cache.auth_secret.name,
                "firestoreDatabase": store.serving,
                "filesBucket": storage.files.name,
                "releasesBucket": fleet.releases.name,
                # Who to page when a runbook says Escalation, and how (the spec's; null when unset): a fact
                # the runbooks quote, in no resource.
                "escalation": spec.alarms.escalation,
            }
        )
