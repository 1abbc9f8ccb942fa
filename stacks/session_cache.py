"""Cache tier: an ElastiCache replication group that holds sessions, reachable only from the fleet."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from refarch.spec import EnvironmentSpec
from stacks.acknowledgments import acknowledge, acknowledge_checkov
from stacks.encryption import data_key
from stacks.retention import removal_policy, retained_log_group

CACHE_PORT = 6379


class SessionCache(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: EnvironmentSpec,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
    ) -> None:
        super().__init__(scope, construct_id)
        cache = spec.cache
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Session cache: fleet only", allow_all_outbound=False
        )
        # ElastiCache AUTH tokens allow printable ASCII except a few symbols; letters and digits are safe.
        self.auth_secret = secretsmanager.Secret(
            self,
            "AuthToken",
            description="AUTH token of the session cache",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=64
            ),
            removal_policy=removal_policy(spec),
            encryption_key=data_key(self, spec),
        )
        acknowledge(self.auth_secret, "AwsSolutions-SMG4")
        if self.auth_secret.encryption_key is None:
            acknowledge_checkov(
                self.auth_secret.node.default_child, "CKV_AWS_149", reason_key="CKV_AWS_149 AWS-managed keys"
            )
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description="Isolated data subnets of the session cache",
            subnet_ids=vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnet_ids,
        )
        slow_log = retained_log_group(self, "SlowLog", spec)
        failover = cache.replicas > 0
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description=f"Session cache ({spec.name})",
            engine=spec.aws.cache_engine,
            engine_version=spec.aws.cache_engine_version,
            cache_node_type=spec.aws.cache_node_type,
            num_node_groups=1,
            replicas_per_node_group=cache.replicas,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            port=CACHE_PORT,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            auth_token=self.auth_secret.secret_value.unsafe_unwrap(),
            snapshot_retention_limit=cache.snapshot_retention_days,
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[
                elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                    destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
                        cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                            log_group=slow_log.log_group_name
                        )
                    ),
                )
            ],
        )
        if not failover:
            acknowledge(self.replication_group, "AwsSolutions-AEC4")
        self.node_count = cache.replicas + 1

    @property
    def endpoint(self) -> str:
        return self.replication_group.attr_primary_end_point_address

    @property
    def member_ids(self) -> list[str]:
        """Node ids of a cluster-mode-disabled group: `<group>-001`, `-002`, ... (for per-node metrics)."""
        group_id = self.replication_group.ref
        return [f"{group_id}-{index:03d}" for index in range(1, self.node_count + 1)]

    def allow_from(self, peer: ec2.ISecurityGroup) -> None:
        self.security_group.add_ingress_rule(
            peer, ec2.Port.tcp(CACHE_PORT), "Fleet instances to the session cache"
        )
        # Egress is closed by default on the fleet too: open exactly this path.
        peer.add_egress_rule(self.security_group, ec2.Port.tcp(CACHE_PORT), "To the session cache")
