"""Load balancer tier: an internal ALB with no affinity and a shallow health check."""

from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from refarch.health_check import HEALTH_CHECK
from refarch.spec import EnvironmentSpec
from sample_service.paths import HEALTH_PATH
from stacks.acknowledgments import acknowledge_checkov, acknowledge_control

HTTP_PORT = 80
HTTPS_PORT = 443
# API Gateway's private integrations send the stage in the path (`/v1/items/x`); the service serves
# `/items/x`. Only a non-default rule may carry a transform, so this rule takes the stage's requests.
STAGE_RULE_PRIORITY = 10


def listener_port(spec: EnvironmentSpec) -> int:
    return HTTPS_PORT if spec.tls.certificate_arn else HTTP_PORT


class ServiceLoadBalancer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: EnvironmentSpec,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        fleet: autoscaling.AutoScalingGroup,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Load balancer: API gateway in, fleet out",
            allow_all_outbound=False,
        )
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            vpc_subnets=subnets,
            internet_facing=False,
            security_group=self.security_group,
            drop_invalid_header_fields=True,
            deletion_protection=spec.production,
        )
        self.alb.log_access_logs(access_logs, prefix="alb")
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Fleet",
            vpc=vpc,
            port=spec.service.port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.INSTANCE,
            # Registering the fleet also opens exactly load balancer -> fleet on the service port.
            targets=[fleet],
            # In-flight requests get the service's whole shutdown grace before the target is gone.
            deregistration_delay=Duration.seconds(spec.service.shutdown_grace_seconds),
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                healthy_http_codes=str(HEALTH_CHECK.healthy_status),
                interval=Duration.seconds(HEALTH_CHECK.interval_seconds),
                timeout=Duration.seconds(HEALTH_CHECK.timeout_seconds),
                healthy_threshold_count=HEALTH_CHECK.healthy_threshold,
                unhealthy_threshold_count=HEALTH_CHECK.unhealthy_threshold,
            ),
        )
        # Any instance serves any request: say so explicitly rather than rely on a default.
        self.target_group.set_attribute("stickiness.enabled", "false")
        # With a certificate the load balancer speaks only HTTPS (TLS 1.2 and 1.3); there is no HTTP
        # listener to redirect from, since the gateway is the only client.
        tls = spec.tls.certificate_arn is not None
        self.port = listener_port(spec)
        self.listener = self.alb.add_listener(
            "Https" if tls else "Http",
            port=self.port,
            protocol=elbv2.ApplicationProtocol.HTTPS if tls else elbv2.ApplicationProtocol.HTTP,
            certificates=[elbv2.ListenerCertificate.from_arn(spec.tls.certificate_arn)] if tls else None,
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS if tls else None,
            open=False,
            default_target_groups=[self.target_group],
        )
        if not tls:
            for check in ("CKV_AWS_2", "CKV_AWS_103"):
                acknowledge_checkov(self.listener.node.default_child, check)
            acknowledge_control(self.listener.node.default_child, "CT.ELASTICLOADBALANCING.PR.1")
        if not spec.production:
            acknowledge_control(self.alb.node.default_child, "CT.ELASTICLOADBALANCING.PR.5")

    def strip_stage_prefix(self, stage: str) -> elbv2.CfnListenerRule:
        """Rewrite `/<stage>` and `/<stage>/...` to `/` and `/...` before the request reaches the fleet.

        Elastic Load Balancing, "Transforms for listener rules": url-rewrite, regex and `$1` replacement;
        a default rule cannot carry a transform. Requests without the prefix fall through unchanged.
        """
        prefix = f"/{re.escape(stage)}"
        return elbv2.CfnListenerRule(
            self,
            "StripStage",
            listener_arn=self.listener.listener_arn,
            priority=STAGE_RULE_PRIORITY,
            conditions=[
                elbv2.CfnListenerRule.RuleConditionProperty(
                    field="path-pattern",
                    path_pattern_config=elbv2.CfnListenerRule.PathPatternConfigProperty(
                        values=[f"/{stage}", f"/{stage}/*"]
                    ),
                )
            ],
            actions=[
                elbv2.CfnListenerRule.ActionProperty(
                    type="forward", target_group_arn=self.target_group.target_group_arn
                )
            ],
            transforms=[
                elbv2.CfnListenerRule.TransformProperty(
                    type="url-rewrite",
                    url_rewrite_config=elbv2.CfnListenerRule.RewriteConfigObjectProperty(
                        rewrites=[
                            elbv2.CfnListenerRule.RewriteConfigProperty(
                                regex=f"^{prefix}/?(.*)$", replace="/$1"
                            )
                        ]
                    ),
                )
            ],
        )

    def allow_from(self, peer: ec2.ISecurityGroup) -> None:
        self.security_group.add_ingress_rule(peer, ec2.Port.tcp(self.port), "From the API gateway only")
        peer.add_egress_rule(self.security_group, ec2.Port.tcp(self.port), "To the load balancer")
