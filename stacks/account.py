"""What exists once per account and region, whatever the number of environments deployed there.

API Gateway writes execution and access logs through one CloudWatch role per account and region
(`AWS::ApiGateway::Account`). A per-environment stack that created it would overwrite the other
environments' setting, and deleting it (dev) would remove the role the others log through.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.acknowledgments import acknowledge

ACCOUNT_STACK_NAME = "StatelessService-account"


class AccountSettingsStack(Stack):
    def __init__(self, scope: Construct, **kwargs: Any) -> None:
        super().__init__(
            scope,
            ACCOUNT_STACK_NAME,
            description="Stateless reference architecture: account-level API Gateway logging role",
            # Every environment's API logs through this role: never delete it with the stack.
            termination_protection=True,
            **kwargs,
        )
        role = iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway writes every environment's logs through this role",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        acknowledge(
            role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
        )
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
