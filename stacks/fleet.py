"""Compute tier: a stateless Auto Scaling fleet that boots the sample service and is replaced at will."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import (
    CfnAutoScalingInstanceRefresh,
    CfnAutoScalingInstanceRefreshAlarmSpecification,
    CfnAutoScalingInstanceRefreshPreferences,
    CfnUpdatePolicy,
    Duration,
    Stack,
)
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from constructs import Construct

from refarch.boot import render_boot
from refarch.spec import EnvironmentSpec
from stacks.acknowledgments import acknowledge, acknowledge_control, nag_partition
from stacks.boot import boot_budget, fleet_bundle, image_parameter
from stacks.retention import retained_log_group

BOOT_SCRIPT = Path(__file__).with_name("boot.sh")
# A refresh pauses after a fifth of the fleet is new, then after half; 100 (required to replace every
# instance) is the end of the refresh, where BakeTime does the last observation.
CHECKPOINT_PERCENTAGES = (20, 50, 100)
# What the SSM agent needs for Session Manager: register its instance and open its session channels
# (Systems Manager, "Step 2: Verify or add instance permissions for Session Manager", custom policy; the
# AWS-managed AWSCloud9SSMInstanceProfile is the same list). The channel actions have no resource type
# (Service Authorization Reference, Amazon Message Gateway Service); registration names an instance.
SESSION_CHANNEL_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
INSTANCE_REGISTRATION_ACTIONS = ("ssm:UpdateInstanceInformation",)
SESSION_MANAGER_ACTIONS = INSTANCE_REGISTRATION_ACTIONS + SESSION_CHANNEL_ACTIONS


class StatelessFleet(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: EnvironmentSpec,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        service_environment: dict[str, str],
        notifications: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        capacity = spec.capacity
        budget = boot_budget(spec)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Fleet: load balancer in, AWS APIs out",
            allow_all_outbound=False,
        )
        # HTTPS out for AWS APIs (through NAT or gateway endpoints) and the boot's downloads (S3 gateway).
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
        self.role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Sample service instances: their own table, bucket and cache secret only",
        )
        # Session Manager only, instead of AmazonSSMManagedInstanceCore, whose ssm:GetParameter(s) on "*"
        # would let an instance read every parameter of the account.
        stack = Stack.of(self)
        instances = stack.format_arn(service="ec2", resource="instance", resource_name="*")
        session_manager = iam.ManagedPolicy(
            self,
            "SessionManager",
            description="Session Manager's agent channels; no parameter, document or association reads",
            statements=[
                iam.PolicyStatement(actions=list(INSTANCE_REGISTRATION_ACTIONS), resources=[instances]),
                iam.PolicyStatement(actions=list(SESSION_CHANNEL_ACTIONS), resources=["*"]),
            ],
        )
        acknowledge(
            session_manager,
            "AwsSolutions-IAM5[Resource::*]",
            reason_key="AwsSolutions-IAM5[Resource::*] session manager",
        )
        acknowledge(
            session_manager,
            f"AwsSolutions-IAM5[Resource::arn:{nag_partition(stack)}:ec2:{stack.region}:<AWS::AccountId>:instance/*]",
            reason_key="AwsSolutions-IAM5[Resource::<instances>/*] session manager",
        )
        self.role.add_managed_policy(session_manager)
        # The self-contained release (the service, its wheelhouse and hashed lock) for the group's platform:
        # an instance installs it with no index at all (refarch.bundle).
        self.release = fleet_bundle(spec)
        self.bundle = s3_assets.Asset(self, "ServiceBundle", path=str(self.release.path))
        # Exactly the bundle object, rather than grant_read's wildcards over the whole asset bucket.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    Stack.of(self).format_arn(
                        service="s3",
                        region="",
                        account="",
                        resource=self.bundle.s3_bucket_name,
                        resource_name=self.bundle.s3_object_key,
                    )
                ],
            )
        )
        # Instances are replaced at will, so the service's logs must leave them (the CloudWatch agent).
        self.service_logs = retained_log_group(self, "ServiceLogs", spec)
        self.service_logs.grant_write(self.role)
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ec2.MachineImage.from_ssm_parameter(image_parameter(self.release)),
            instance_type=ec2.InstanceType(spec.aws.instance_type),
            role=self.role,
            security_group=self.security_group,
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            associate_public_ip_address=False,
            detailed_monitoring=spec.production,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        capacity.root_volume_gib,
                        encrypted=True,
                        delete_on_termination=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                    ),
                )
            ],
            user_data=self._user_data(spec, service_environment, budget.download_seconds),
        )
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=subnets,
            # Several instance types, on demand, in the spec's order of preference: a replacement still
            # launches when one type runs short in a zone.
            mixed_instances_policy=autoscaling.MixedInstancesPolicy(
                launch_template=self.launch_template,
                launch_template_overrides=[
                    autoscaling.LaunchTemplateOverrides(instance_type=ec2.InstanceType(name))
                    for name in (spec.aws.instance_type, *spec.aws.more_instance_types)
                ],
                instances_distribution=autoscaling.InstancesDistribution(
                    on_demand_allocation_strategy=autoscaling.OnDemandAllocationStrategy.PRIORITIZED,
                    on_demand_percentage_above_base_capacity=100,
                ),
            ),
            min_capacity=capacity.min,
            max_capacity=capacity.max,
            # No desired capacity in the template: CloudFormation would reset a scaled-out fleet to it on
            # every deployment (aws-cdk#5215). The group starts at min and target tracking decides.
            # The boot budget (stacks.boot) is the grace and both warm-ups: a replacement is judged, counted
            # and refreshed past only once it can be in service.
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                grace_period=Duration.seconds(budget.seconds),
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB],
            ),
            # Replacements, for any reason, launch and pass health checks before anything is terminated.
            min_healthy_percentage=100,
            max_healthy_percentage=200,
            update_policy=autoscaling.UpdatePolicy.instance_refresh(
                strategy=autoscaling.InstanceRefreshStrategy.ROLLING,
                min_healthy_percentage=100,
                max_healthy_percentage=200,
                instance_warmup=Duration.seconds(budget.seconds),
            ),
            default_instance_warmup=Duration.seconds(budget.seconds),
            capacity_rebalance=False,
            group_metrics=[autoscaling.GroupMetrics.all()],
            notifications=[autoscaling.NotificationConfiguration(topic=notifications)],
        )
        acknowledge(self.group, "AwsSolutions-EC26")
        if not spec.production:
            acknowledge_control(self.group.node.default_child, "CT.AUTOSCALING.PR.11")
            acknowledge_control(self.launch_template.node.default_child, "CT.EC2.PR.10")
        # The zones, explicitly, as well as the subnets that lie in them.
        cfn_group: autoscaling.CfnAutoScalingGroup = self.group.node.default_child
        cfn_group.availability_zones = vpc.availability_zones
        self.group.scale_on_cpu_utilization(
            "CpuTarget",
            target_utilization_percent=capacity.cpu_target_percent,
        )

    def guard_rollouts(self, alarms: list[cloudwatch.IAlarm], observation: Duration) -> None:
        """Replace the fleet in phases and stop when real requests fail.

        A release can pass the shallow health check and still fail every real request. The refresh stops
        at each checkpoint, and bakes after the last instance, for `observation`, long enough for the
        alarms to judge the new instances; if any goes into ALARM the refresh fails and CloudFormation
        rolls the stack back, which refreshes the fleet back to the previous launch template
        (CloudFormation, UpdatePolicy "AutoScalingInstanceRefresh": AlarmSpecification,
        CheckpointPercentages, CheckpointDelay, BakeTime;
        EC2 Auto Scaling's own AutoRollback is not a CloudFormation preference).
        """
        group: autoscaling.CfnAutoScalingGroup = self.group.node.default_child
        # The group's L2 renders its refresh policy when built, before the alarms exist: extend it, typed.
        policy = group.cfn_options.update_policy
        refresh = policy.auto_scaling_instance_refresh
        built = refresh.preferences
        seconds = int(observation.to_seconds())
        group.cfn_options.update_policy = CfnUpdatePolicy(
            auto_scaling_scheduled_action=policy.auto_scaling_scheduled_action,
            auto_scaling_instance_refresh=CfnAutoScalingInstanceRefresh(
                strategy=refresh.strategy,
                preferences=CfnAutoScalingInstanceRefreshPreferences(
                    instance_warmup=built.instance_warmup,
                    min_healthy_percentage=built.min_healthy_percentage,
                    max_healthy_percentage=built.max_healthy_percentage,
                    alarm_specification=CfnAutoScalingInstanceRefreshAlarmSpecification(
                        alarms=[alarm.alarm_name for alarm in alarms]
                    ),
                    checkpoint_percentages=list(CHECKPOINT_PERCENTAGES),
                    checkpoint_delay=seconds,
                    bake_time=seconds,
                ),
            ),
        )

    def _user_data(
        self, spec: EnvironmentSpec, service_environment: dict[str, str], download_seconds: int
    ) -> ec2.UserData:
        script = render_boot(
            BOOT_SCRIPT,
            spec.service,
            service_environment,
            release=self.release.id,
            download_seconds=download_seconds,
            bundle_url=self.bundle.s3_object_url,
            # The bucket's own region, always: a gateway endpoint serves only its region's S3 endpoint.
            region=Stack.of(self).region,
            service_log_group=self.service_logs.log_group_name,
        )
        return ec2.UserData.custom(script)
