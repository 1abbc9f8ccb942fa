"""Monitoring tier: alarms on what users feel and on what the stateless tier depends on, one dashboard,
and an encrypted SNS topic that every alarm notifies."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_synthetics as synthetics
from constructs import Construct

from refarch.alarm_policy import WINDOW, EvaluationWindow
from refarch.spec import EnvironmentSpec
from sample_service.dynamodb_layout import OPERATIONS as STORE_OPERATIONS
from stacks.acknowledgments import acknowledge_checkov, acknowledge_control
from stacks.retention import removal_policy
from stacks.synthetic_check import SCHEDULE

PERIOD = Duration.seconds(WINDOW.period_seconds)
# The alarm policy's alarms (refarch.alarm_policy) -> the alarm that implements each here (its construct id).
POLICY_ALARMS = {
    "errors_5xx": "Errors5xx",
    "latency_p99": "LatencyP99",
    "too_few_healthy_hosts": "TooFewHealthyHosts",
    "unhealthy_hosts": "UnhealthyHosts",
    "gateway_errors": "ApiServerErrors",
    "cache_cpu": "CacheCpu1",
    "cache_memory": "CacheMemory1",
    "store_throttles": "StoreThrottles",
}
AT_OR_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
TOPIC_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]
# One synthetic check per period: its schedule. Two failed runs in a row fire its alarm.
SYNTHETIC_PERIOD = SCHEDULE
SYNTHETIC_WINDOW = EvaluationWindow(
    period_seconds=int(SYNTHETIC_PERIOD.to_seconds()), periods=2, breaching_periods=2
)
# After an alarm's window ends, its last datapoint is published and then evaluated: a rollout pause waits
# this many more periods so a failure in the window's last period can still stop the refresh.
ROLLOUT_MARGIN_PERIODS = 2


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
        # CloudWatch may use the key only for alarms of this account (confused deputy: SNS asks for both
        # aws:SourceAccount and aws:SourceArn, "Managing Amazon SNS encryption keys and costs").
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=TOPIC_KEY_ACTIONS,
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarms},
                },
            )
        )
        # Auto Scaling publishes as its service-linked role, which exists only after the account's first
        # group: a key policy naming it as principal fails CreateKey in a fresh account (KMS, CreateKey
        # "Policy": principals must exist). The role is matched by condition instead, only through SNS
        # and only in this account, as AWS-managed keys' policies do (kms:CallerAccount, kms:ViaService).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=TOPIC_KEY_ACTIONS,
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "aws:PrincipalArn": autoscaling_role,
                        "kms:CallerAccount": stack.account,
                        "kms:ViaService": f"sns.{stack.region}.amazonaws.com",
                    }
                },
            )
        )
        acknowledge_checkov(key.node.default_child, "CKV_AWS_33")
        acknowledge_control(key.node.default_child, "CT.KMS.PR.3")
        self.key = key
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
        stage: apigw.Stage,
        cache_member_ids: list[str],
        table: dynamodb.ITable,
        synthetic_check: synthetics.Canary,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.topic = topic
        self.alarms: list[cloudwatch.Alarm] = []
        # Each alarm's evaluation window: its period, and how many periods it looks back before it can fire.
        self.windows: dict[cloudwatch.Alarm, EvaluationWindow] = {}

        thresholds = spec.alarms
        lb_metrics = load_balancer.metrics
        requests = lb_metrics.request_count(period=PERIOD)
        errors_5xx = error_rate(
            {
                "target5xx": lb_metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD
                ),
                "elb5xx": lb_metrics.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD),
            },
            requests,
            "5xx % of requests",
        )
        self.errors_5xx = self._alarm(
            "Errors5xx", errors_5xx, thresholds.error_5xx_percent, "5xx responses above the spec's rate"
        )
        unhealthy = target_group.metrics.unhealthy_host_count(period=PERIOD, statistic="Maximum")
        self._alarm("UnhealthyHosts", unhealthy, thresholds.unhealthy_hosts, "Instances failing /health")
        # Zero registered targets is zero unhealthy ones: count the healthy, against the fleet's minimum.
        healthy = target_group.metrics.healthy_host_count(period=PERIOD, statistic="Minimum")
        self._alarm(
            "TooFewHealthyHosts",
            healthy,
            spec.capacity.min,
            "Fewer healthy instances than the fleet's minimum",
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        latency = target_group.metrics.target_response_time(period=PERIOD, statistic="p99")
        self._alarm("LatencyP99", latency, thresholds.p99_latency_ms / 1000, "p99 latency above the spec")
        # Stage metrics carry ApiName and Stage, so each environment counts only its own API.
        api_requests = stage.metric_count(period=PERIOD, statistic="Sum")
        api_errors = error_rate(
            {"api5xx": stage.metric_server_error(period=PERIOD, statistic="Sum")},
            api_requests,
            "API 5xx % of requests",
        )
        self._alarm(
            "ApiServerErrors",
            api_errors,
            thresholds.error_5xx_percent,
            "API Gateway 5xx above the spec's rate",
        )
        # A real client's call through the gateway; no result at all (the check stopped) is a failure too.
        synthetic = synthetic_check.metric_success_percent(period=SYNTHETIC_PERIOD, statistic="Average")
        self.synthetic_check = self._alarm(
            "SyntheticCheck",
            synthetic,
            100,
            "The synthetic client's write-and-read through the API failed",
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            window=SYNTHETIC_WINDOW,
        )

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

        # Only the operations the service calls: a throttle metric of an operation never called has no data.
        throttles = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL(op{index}, 0)" for index, _ in enumerate(STORE_OPERATIONS)),
            using_metrics={
                f"op{index}": table.metric(
                    "ThrottledRequests",
                    dimensions_map={"TableName": table.table_name, "Operation": operation},
                    statistic="Sum",
                    period=PERIOD,
                )
                for index, operation in enumerate(STORE_OPERATIONS)
            },
            label="Throttled store requests",
            period=PERIOD,
        )
        self._alarm("StoreThrottles", throttles, thresholds.store_throttled_requests, "Item store throttling")

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Requests and 5xx %", left=[requests], right=[errors_5xx], width=12),
            cloudwatch.GraphWidget(title="p99 latency (s)", left=[latency], width=12),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Healthy / unhealthy instances", left=[healthy, unhealthy], width=8),
            cloudwatch.GraphWidget(
                title="API requests and 5xx %", left=[api_requests], right=[api_errors], width=8
            ),
            cloudwatch.GraphWidget(title="Synthetic check success %", left=[synthetic], width=8),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Cache CPU %", left=cache_cpu, width=8),
            cloudwatch.GraphWidget(title="Cache memory %", left=cache_memory, width=8),
            cloudwatch.GraphWidget(title="Store throttles", left=[throttles], width=8),
        )
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(alarms=self.alarms, width=24))

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        comparison: cloudwatch.ComparisonOperator = AT_OR_ABOVE,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        window: EvaluationWindow = WINDOW,
    ) -> cloudwatch.Alarm:
        # The metric sets the period CloudWatch evaluates: the window, and the rollout pause, must agree.
        if metric.period.to_seconds() != window.period_seconds:
            raise ValueError(f"{name}: the metric's period is not its window's ({window.period_seconds} s)")
        alarm = metric.create_alarm(
            self,
            name,
            alarm_description=f"{description} ({self.spec.name})",
            threshold=threshold,
            evaluation_periods=window.periods,
            datapoints_to_alarm=window.breaching_periods,
            comparison_operator=comparison,
            treat_missing_data=missing,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
        self.windows[alarm] = window
        return alarm

    @property
    def rollout_alarms(self) -> list[cloudwatch.Alarm]:
        """What a release must not set off: real requests failing, at the load balancer or for a client."""
        return [self.errors_5xx, self.synthetic_check]

    @property
    def rollout_observation(self) -> Duration:
        """Long enough for every rollout alarm to see a full evaluation window of the new instances, and
        for that window's last datapoint to be published and evaluated."""
        return Duration.seconds(
            max(
                self.windows[alarm].seconds + ROLLOUT_MARGIN_PERIODS * self.windows[alarm].period_seconds
                for alarm in self.rollout_alarms
            )
        )


def error_rate(
    errors: dict[str, cloudwatch.IMetric], requests: cloudwatch.IMetric, label: str
) -> cloudwatch.MathExpression:
    """Errors as a % of requests. Load balancer and gateway publish error counts only when non-zero, and
    metric math over a missing input has no datapoint: FILL makes every input a number every period."""
    total = " + ".join(f"FILL({name}, 0)" for name in errors)
    return cloudwatch.MathExpression(
        expression=f"100 * ({total}) / MAX([FILL(requests, 0), 1])",
        using_metrics={**errors, "requests": requests},
        label=label,
        period=PERIOD,
    )


def _cache_metric(name: str, member_id: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/ElastiCache",
        metric_name=name,
        dimensions_map={"CacheClusterId": member_id},
        statistic="Average",
        period=PERIOD,
    )
