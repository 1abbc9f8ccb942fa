"""One environment of the reference architecture on AWS: the tiers, wired gateway -> LB -> fleet -> data."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from refarch.service_settings import tuned_settings
from refarch.spec import EnvironmentSpec
from sample_service.dynamodb_layout import OPERATIONS as STORE_OPERATIONS
from stacks import encryption
from stacks.api_gateway import STAGE, PublicApi
from stacks.fleet import StatelessFleet
from stacks.item_store import ItemStore
from stacks.load_balancer import ServiceLoadBalancer
from stacks.monitoring import OperatorNotifications, ServiceMonitoring
from stacks.network import ServiceNetwork
from stacks.object_storage import ObjectStorage
from stacks.session_cache import CACHE_PORT, SessionCache
from stacks.synthetic_check import SyntheticCheck

# The output holding the spec's alarms.escalation (who to page, and how); tools/docs/aws reads it.
ESCALATION_OUTPUT = "Escalation"
ESCALATION_DESCRIPTION = "Who to page when a runbook says Escalation, and how (spec alarms.escalation)"


def stack_name(environment: str) -> str:
    return f"StatelessService-{environment}"


def stack_tags(spec: EnvironmentSpec) -> dict[str, str]:
    """What every environment's stack and resources are tagged with."""
    return {"environment": spec.name, "architecture": "stateless-reference"}


class ServiceStack(Stack):
    def __init__(self, scope: Construct, *, spec: EnvironmentSpec, **kwargs: Any) -> None:
        super().__init__(
            scope,
            stack_name(spec.name),
            description=f"Stateless reference architecture: service tier ({spec.name})",
            termination_protection=spec.production,
            # Stack tags: with @aws-cdk/core:explicitStackTags (cdk.json) Tags.of(stack) no longer reaches
            # the stack itself, only its resources; CloudFormation gives stack tags to what it creates too.
            tags=stack_tags(spec),
            **kwargs,
        )
        self.spec = spec
        for key, value in stack_tags(spec).items():
            Tags.of(self).add(key, value)

        self.notifications = OperatorNotifications(self, "Notifications", spec=spec)
        self.network = ServiceNetwork(self, "Network", spec=spec)
        vpc = self.network.vpc
        self.storage = ObjectStorage(self, "ObjectStorage", spec=spec)
        self.store = ItemStore(self, "ItemStore", spec=spec)
        self.cache = SessionCache(self, "SessionCache", spec=spec, vpc=vpc, subnets=self.network.data_subnets)
        self.fleet = StatelessFleet(
            self,
            "Fleet",
            spec=spec,
            vpc=vpc,
            subnets=self.network.app_subnets,
            service_environment=self._service_environment(),
            notifications=self.notifications.topic,
        )
        self.cache.allow_from(self.fleet.security_group)
        # Exactly the operations the service's store calls, on the tables its instances use only.
        for table in self.store.in_use:
            table.grant(self.fleet.role, *(f"dynamodb:{operation}" for operation in STORE_OPERATIONS))
        if key := self.store.serving.encryption_key:
            # What DynamoDB needs of the caller's key permissions for reads and writes, through DynamoDB only.
            self.fleet.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[
                        "kms:Decrypt",
                        "kms:DescribeKey",
                        "kms:Encrypt",
                        "kms:GenerateDataKey",
                    ],
                    resources=[key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{self.region}.amazonaws.com"}},
                )
            )
        self.cache.auth_secret.grant_read(self.fleet.role)

        self.load_balancer = ServiceLoadBalancer(
            self,
            "LoadBalancer",
            spec=spec,
            vpc=vpc,
            subnets=self.network.app_subnets,
            fleet=self.fleet.group,
            access_logs=self.storage.access_logs,
        )
        self.api = PublicApi(
            self,
            "Api",
            spec=spec,
            vpc=vpc,
            subnets=self.network.app_subnets,
            load_balancer=self.load_balancer.alb,
        )
        self.load_balancer.allow_from(self.api.security_group)
        self.load_balancer.strip_stage_prefix(STAGE)
        self.synthetic_check = SyntheticCheck(
            self,
            "SyntheticCheck",
            spec=spec,
            api_url=self.api.url,
            user_pool=self.api.user_pool,
            token_url=self.api.token_url,
            scope_name=self.api.invoke_scope,
            client_scope=self.api.client_scope,
            artifacts=self.storage.access_logs,
        )
        self.monitoring = ServiceMonitoring(
            self,
            "Monitoring",
            spec=spec,
            load_balancer=self.load_balancer.alb,
            target_group=self.load_balancer.target_group,
            stage=self.api.api.deployment_stage,
            cache_member_ids=self.cache.member_ids,
            table=self.store.serving,
            synthetic_check=self.synthetic_check.canary,
            topic=self.notifications.topic,
        )
        self.fleet.guard_rollouts(self.monitoring.rollout_alarms, self.monitoring.rollout_observation)
        self._outputs()

    @property
    def availability_zones(self) -> list[str]:
        # Environment-agnostic stacks otherwise get only two zones; pick as many as the spec asks for.
        return [Fn.select(index, Fn.get_azs()) for index in range(self.spec.zones)]

    def _service_environment(self) -> dict[str, str]:
        """The sample service's configuration: it reads nothing but these variables."""
        return {
            **tuned_settings(self.spec.service),
            "CACHE_HOST": self.cache.endpoint,
            "CACHE_PORT": str(CACHE_PORT),
            "CACHE_TLS": "true",
            "CACHE_AUTH_SECRET_ID": self.cache.auth_secret.secret_arn,
            "STORE_BACKEND": "dynamodb",
            "ITEMS_TABLE": self.store.serving.table_name,
            "AWS_REGION": self.region,
        }

    def _outputs(self) -> None:
        outputs = {
            "ApiUrl": (self.api.url, "Public entry point (Cognito access token required)"),
            "TokenDomain": (self.api.user_pool_domain.base_url(), "OAuth token endpoint base URL"),
            "UserPoolId": (self.api.user_pool.user_pool_id, "Cognito user pool of API clients"),
            "ClientId": (self.api.client.user_pool_client_id, "App client for the service's callers"),
            "SyntheticCheckName": (self.synthetic_check.canary.canary_name, "Canary calling the API"),
            "AutoScalingGroupName": (self.fleet.group.auto_scaling_group_name, "Fleet to refresh or scale"),
            "TargetGroupArn": (self.load_balancer.target_group.target_group_arn, "Health of each instance"),
            "LoadBalancerDns": (self.load_balancer.alb.load_balancer_dns_name, "Internal load balancer"),
            "CacheEndpoint": (self.cache.endpoint, "Session cache primary endpoint (TLS, AUTH)"),
            "CacheAuthSecretArn": (self.cache.auth_secret.secret_arn, "Secret holding the cache AUTH token"),
            "ItemsTableName": (self.store.serving.table_name, "Durable item store"),
            "FilesBucketName": (self.storage.files.bucket_name, "Object storage for files"),
            "AlarmTopicArn": (self.notifications.topic.topic_arn, "Subscribe on-call here"),
            # What an operator's KMS permission names to publish to the encrypted topic (the escalation).
            "TopicKeyArn": (self.notifications.key.key_arn, "Customer managed key of the alarm topic"),
            "DashboardName": (self.monitoring.dashboard.dashboard_name, "Operator dashboard"),
        }
        if key := self.node.try_find_child(encryption.KEY_ID):
            # Its ARN is what an operator's KMS permission names (the restore runbook's policy).
            outputs["DataKeyArn"] = (key.key_arn, "Customer managed key of the data at rest")
        if escalation := self.spec.alarms.escalation:
            # A fact for the runbooks (their Escalation section quotes it), not a resource setting.
            outputs[ESCALATION_OUTPUT] = (escalation, ESCALATION_DESCRIPTION)
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
