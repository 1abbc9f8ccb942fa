"""Cache tier: Memorystore for Redis on the VPC, AUTH on, TLS on, highly available where the spec has
replicas; its AUTH string lives only in Secret Manager, readable by the fleet's account alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp.redis as redis
import pulumi_gcp.secretmanager as secretmanager

from gcp_stack.tier import Tier, environment_labels
from refarch.spec import Cache

# Memorystore serves TLS on 6378 when transit encryption is on (6379 stays closed).
CACHE_TLS_PORT = 6378
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"


@dataclass(frozen=True, kw_only=True)
class SessionCacheArgs:
    environment: str
    # Production keeps the instance and its secret from being deleted.
    production: bool
    # Replicas and snapshots: the spec's cache section.
    cache: Cache
    memory_gb: int
    redis_version: str
    region: str
    # The stack's zones: the primary runs in the first, a failover replica in the second.
    zones: Sequence[str]
    network: pulumi.Input[str]
    reserved_range: str
    reader: pulumi.Input[str]


class SessionCache(Tier):
    def __init__(self, name: str, args: SessionCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("SessionCache", name, opts)
        environment, labels = args.environment, environment_labels(args.environment)
        replicas = args.cache.replicas
        high_availability = replicas > 0
        zones = args.zones
        self.instance = redis.Instance(
            "sessions",
            display_name=f"Session cache ({environment})",
            tier="STANDARD_HA" if high_availability else "BASIC",
            memory_size_gb=args.memory_gb,
            redis_version=args.redis_version,
            region=args.region,
            location_id=zones[0],
            alternative_location_id=zones[1] if high_availability and len(zones) > 1 else None,
            # More than one replica needs read-replicas mode; one replica is the plain failover pair.
            read_replicas_mode="READ_REPLICAS_ENABLED" if replicas > 1 else None,
            replica_count=replicas if high_availability else None,
            authorized_network=args.network,
            connect_mode="DIRECT_PEERING",
            reserved_ip_range=args.reserved_range,
            auth_enabled=True,
            transit_encryption_mode="SERVER_AUTHENTICATION",
            persistence_config=self._persistence(args.cache),
            maintenance_policy=redis.InstanceMaintenancePolicyArgs(
                weekly_maintenance_windows=[
                    redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs(
                        day="SUNDAY",
                        start_time=redis.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs(
                            hours=3
                        ),
                    )
                ]
            ),
            deletion_protection=args.production,
            labels=labels,
            opts=self.child(),
        )
        self.auth_secret = secretmanager.Secret(
            "cache-auth",
            secret_id=f"{environment}-cache-auth",
            replication=secretmanager.SecretReplicationArgs(
                user_managed=secretmanager.SecretReplicationUserManagedArgs(
                    replicas=[secretmanager.SecretReplicationUserManagedReplicaArgs(location=args.region)]
                )
            ),
            deletion_protection=args.production,
            labels=labels,
            opts=self.child(),
        )
        self.auth_secret_value = secretmanager.SecretVersion(
            "cache-auth-value",
            secret=self.auth_secret.id,
            # Marked secret here as well as by the provider, so no preview or state shows it.
            secret_data=pulumi.Output.secret(self.instance.auth_string),
            opts=self.child(),
        )
        self.reader_grant = secretmanager.SecretIamMember(
            "fleet-reads-cache-auth",
            secret_id=self.auth_secret.id,
            role=SECRET_ACCESSOR,
            member=args.reader,
            opts=self.child(),
        )
        self.host = self.instance.host
        # Every CA of the instance (a new one appears before the old expires): public, not a secret.
        self.ca_certificate = self.instance.server_ca_certs.apply(
            lambda certs: "\n".join(cert.cert.strip() for cert in certs)
        )
        # The version the service reads at start-up; `latest` follows a rotated AUTH string on restart.
        self.auth_secret_version = self.auth_secret.name.apply(lambda secret: f"{secret}/versions/latest")
        self.register_outputs({"host": self.host, "authSecret": self.auth_secret.name})

    @staticmethod
    def _persistence(cache: Cache) -> redis.InstancePersistenceConfigArgs:
        if cache.snapshot_retention_days == 0:
            return redis.InstancePersistenceConfigArgs(persistence_mode="DISABLED")
        return redis.InstancePersistenceConfigArgs(persistence_mode="RDB", rdb_snapshot_period="TWELVE_HOURS")
