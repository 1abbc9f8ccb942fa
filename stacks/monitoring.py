"""Monitoring tier: alarms on what users feel and on what the stateless tier depends on, one dashboard,
and an encrypted SNS topic that every alarm notifies."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from refarch.spec import EnvironmentSpec
from stacks.retention import removal_policy

PERIOD = Duration.minutes(1)


class OperatorNotifications(Construct):
    """The encrypted topic that alarms and scaling events notify; operators subscribe to it."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: EnvironmentSpec) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch and Auto Scaling cannot publish under the AWS-managed SNS key, so the topic has its own.
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the operator notification topic",
            enable_key_rotation=True,
            removal_policy=removal_policy(spec),
        )
        stack = Stack.of(self)
        autoscaling_role = stack.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name="aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
        )
        for principal in (
            iam.ServicePrincipal("cloudwatch.amazonaws.com"),
            iam.ArnPrincipal(autoscaling_role),
        ):
            key.grant(principal, "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        if spec.alarms.email:
            self.topic.add_subscription(subscriptions.EmailSubscription(spec.alarms.email))


class ServiceMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: EnvironmentSpec,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        api: apigw.RestApi,
        cache_member_ids: list[str],
        table: dynamodb.ITable,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.topic = topic
        self.alarms: list[cloudwatch.Alarm] = []

        thresholds = spec.alarms
        lb_metrics = load_balancer.metrics
        requests = lb_metrics.request_count(period=PERIOD)
        errors_5xx = cloudwatch.MathExpression(
            expression="100 * (target5xx + elb5xx) / MAX([requests, 1])",
            using_metrics={
                "target5xx": lb_metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD
                ),
                "elb5xx": lb_metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD),
                "requests": requests,
            },
            label="5xx % of requests",
            period=PERIOD,
        )
        self._alarm(
            "Errors5xx", errors_5xx, thresholds.error_5xx_percent, "5xx responses above the spec's rate"
        )
        unhealthy = target_group.metrics.unhealthy_host_count(period=PERIOD, statistic="Maximum")
        self._alarm("UnhealthyHosts", unhealthy, thresholds.unhealthy_hosts, "Instances failing /health")
        latency = target_group.metrics.target_response_time(period=PERIOD, statistic="p99")
        self._alarm("LatencyP99", latency, thresholds.p99_latency_ms / 1000, "p99 latency above the spec")
        api_errors = api.metric_server_error(period=PERIOD, statistic="Sum")
        self._alarm("ApiServerErrors", api_errors, 1, "API Gateway answered 5xx itself")

        cache_cpu, cache_memory = [], []
        for node, member in enumerate(cache_member_ids, start=1):
            cpu = _cache_metric("EngineCPUUtilization", member)
            memory = _cache_metric("DatabaseMemoryUsagePercentage", member)
            self._alarm(f"CacheCpu{node}", cpu, thresholds.cache_cpu_percent, "Cache node CPU high")
            self._alarm(
                f"CacheMemory{node}", memory, thresholds.cache_memory_percent, "Cache node memory high"
            )
            cache_cpu.append(cpu)
            cache_memory.append(memory)

        throttles = table.metric_throttled_requests_for_operations(
            operations=[dynamodb.Operation.GET_ITEM, dynamodb.Operation.PUT_ITEM, dynamodb.Operation.QUERY],
            period=PERIOD,
        )
        self._alarm("StoreThrottles", throttles, thresholds.store_throttled_requests, "Item store throttling")

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Requests and 5xx %", left=[requests], right=[errors_5xx], width=12),
            cloudwatch.GraphWidget(title="p99 latency (s)", left=[latency], width=12),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Healthy / unhealthy instances",
                left=[target_group.metrics.healthy_host_count(period=PERIOD), unhealthy],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API 4xx / 5xx", left=[api.metric_client_error(), api_errors], width=12
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Cache CPU %", left=cache_cpu, width=8),
            cloudwatch.GraphWidget(title="Cache memory %", left=cache_memory, width=8),
            cloudwatch.GraphWidget(title="Store throttles", left=[throttles], width=8),
        )
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(alarms=self.alarms, width=24))

    def _alarm(self, name: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        alarm = metric.create_alarm(
            self,
            name,
            alarm_description=f"{description} ({self.spec.name})",
            threshold=threshold,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)


def _cache_metric(name: str, member_id: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/ElastiCache",
        metric_name=name,
        dimensions_map={"CacheClusterId": member_id},
        statistic="Average",
        period=PERIOD,
    )
