"""One environment of the reference architecture on GCP: gateway -> load balancer -> fleet -> cache and store.

Everything is read and validated first (the spec, then the stack config), so a bad value stops the program
before a single resource is registered.
"""

from __future__ import annotations

import pulumi

from gcp_stack.api_gateway import ApiArgs, PublicApi, backend_audience
from gcp_stack.fleet import FleetArgs, StatelessFleet, fleet_zones
from gcp_stack.identity import IdentityArgs, ServiceIdentities
from gcp_stack.item_store import ItemStore, ItemStoreArgs
from gcp_stack.load_balancer import LoadBalancerArgs, ServiceLoadBalancer
from gcp_stack.monitoring import MonitoringArgs, ServiceMonitoring
from gcp_stack.network import NetworkArgs, ServiceNetwork
from gcp_stack.object_storage import ObjectStorage, ObjectStorageArgs
from gcp_stack.service_environment import service_environment
from gcp_stack.session_cache import CACHE_TLS_PORT, SessionCache, SessionCacheArgs
from gcp_stack.settings import read_stack_settings
from refarch.pulumi_stack import environment_spec, release_bundle


def main() -> None:
    spec = environment_spec(pulumi.Config())
    settings = read_stack_settings(spec)
    bundle = release_bundle(spec.name, "gcp", "gcp.machine_type", spec.gcp.machine_type)

    identities = ServiceIdentities("identity", IdentityArgs(spec, settings))
    fleet_member = identities.fleet.member
    network = ServiceNetwork(
        "network",
        NetworkArgs(
            spec,
            settings.region,
            fleet_service_account=identities.fleet.email,
            service_port=spec.service.port,
            cache_port=CACHE_TLS_PORT,
            zones=fleet_zones(spec, settings),
        ),
    )
    storage = ObjectStorage("object-storage", ObjectStorageArgs(spec, settings))
    store = ItemStore("item-store", ItemStoreArgs(spec, settings, user=fleet_member))
    cache = SessionCache(
        "session-cache",
        SessionCacheArgs(
            spec, settings, network=network.vpc.id, reserved_range=network.cache_range, reader=fleet_member
        ),
    )
    environment = service_environment(
        spec,
        project=settings.project,
        cache_host=cache.host,
        cache_port=CACHE_TLS_PORT,
        cache_auth_secret=cache.auth_secret_version,
        database=store.database.name,
        gateway_audience=backend_audience(settings),
        gateway_account_id=identities.gateway.unique_id,
    )
    fleet = StatelessFleet(
        "fleet",
        FleetArgs(
            spec,
            settings,
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
                store.user_grant,
            ],
        ),
    )
    load_balancer = ServiceLoadBalancer(
        "load-balancer",
        LoadBalancerArgs(
            spec, settings, instance_group=fleet.instance_group, health_check=fleet.health_check.id
        ),
    )
    api = PublicApi(
        "api",
        ApiArgs(
            spec,
            settings,
            backend_address=load_balancer.url,
            gateway_account=identities.gateway.email,
            client_account=identities.api_client.email,
        ),
    )
    ServiceMonitoring(
        "monitoring",
        MonitoringArgs(
            spec,
            settings,
            gateway_host=api.host,
            backend_service=load_balancer.backend.name,
            instance_group=fleet.instance_group,
            cache_instance_id=cache.instance.id,
            database=store.database.name,
        ),
    )

    pulumi.export("apiUrl", api.url)
    pulumi.export("apiClientAccount", identities.api_client.email)
    pulumi.export("apiClientAudience", api.client_audience)
    pulumi.export("apiKey", api.api_key.name)
    pulumi.export("loadBalancerAddress", load_balancer.address.address)
    pulumi.export("backendUrl", load_balancer.url)
    pulumi.export("instanceGroup", fleet.instance_group)
    pulumi.export("cacheHost", cache.host)
    pulumi.export("cacheAuthSecret", cache.auth_secret.name)
    pulumi.export("firestoreDatabase", store.database.name)
    pulumi.export("filesBucket", storage.files.name)
    pulumi.export("releasesBucket", fleet.releases.name)
