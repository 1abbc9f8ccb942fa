"""Network tier: VPC over the environment's zones with private app and isolated data subnets."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from refarch.spec import EnvironmentSpec
from stacks.retention import retained_log_group


class ServiceNetwork(Construct):
    """Public subnets hold only NAT gateways; instances sit in private subnets, the cache in isolated ones."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: EnvironmentSpec) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(spec.vpc_cidr),
            max_azs=spec.zones,
            nat_gateways=spec.aws.nat_gateways,
            subnet_configuration=[
                # Only NAT gateways live here, with their own Elastic IPs: nothing needs an automatic one.
                ec2.SubnetConfiguration(
                    name="edge",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
                ec2.SubnetConfiguration(
                    name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
        )
        flow_log_group = retained_log_group(self, "FlowLogs", spec)
        self.vpc.add_flow_log(
            "AllTraffic",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

    @property
    def app_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name="app")

    @property
    def data_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name="data")
