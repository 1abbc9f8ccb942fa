"""A synthetic client: a CloudWatch Synthetics canary that calls a real route through the gateway with a
real token, from outside the VPC, every few minutes. The load balancer's health check proves only that
an instance serves `/health`; this proves a client gets answers, so it catches what the health check
cannot (a wrong path at the gateway, a broken authorizer, a dependency outage)."""

from __future__ import annotations

import math
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_synthetics as synthetics
from constructs import Construct

from refarch.spec import EnvironmentSpec
from stacks.acknowledgments import acknowledge, acknowledge_checkov, nag_partition
from stacks.encryption import data_key
from stacks.fleet import CHECKPOINT_PERCENTAGES

CANARY_CODE = Path(__file__).with_name("canary") / "index.js"
# syn-nodejs-puppeteer-13.0: Node.js 22 (global fetch, AWS SDK v3), the newest Puppeteer runtime in
# aws-cdk-lib 2.275.0 (CloudWatch docs, "Runtime versions using Node.js and Puppeteer").
RUNTIME = synthetics.Runtime.SYNTHETICS_NODEJS_PUPPETEER_13_0
SCHEDULE = Duration.minutes(5)
# The route it exercises, relative to the stage URL; the item expires on its own.
ITEM_PATH = "items/synthetic-check"
ITEM_TTL_SECONDS = 3600
# Each round is a write and a read. A release broken on the new instances fails only the calls the load
# balancer sends to them: at the first rollout checkpoint, a run makes enough calls to fail with this
# probability, so the alarm's consecutive failing runs come while the refresh waits there.
RUN_FAILS_PROBABILITY = 0.95
CALLS_PER_ROUND = 2


def rounds_per_run(broken_share: float, probability: float = RUN_FAILS_PROBABILITY) -> int:
    """Rounds such that at least one call in a run reaches a broken instance with `probability`."""
    calls = math.log(1 - probability) / math.log(1 - broken_share)
    return math.ceil(calls / CALLS_PER_ROUND)


ROUNDS = rounds_per_run(CHECKPOINT_PERCENTAGES[0] / 100)


class SyntheticCheck(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: EnvironmentSpec,
        api_url: str,
        user_pool: cognito.IUserPool,
        token_url: str,
        scope_name: str,
        client_scope: cognito.OAuthScope,
        artifacts: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        # A client of its own, so its calls stand out in the access logs and it can be revoked alone.
        self.client = user_pool.add_client(
            "Client",
            generate_secret=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True), scopes=[client_scope]
            ),
            access_token_validity=Duration.minutes(60),
            prevent_user_existence_errors=True,
        )
        # Its secret, alone, in Secrets Manager: reading it through Cognito (DescribeUserPoolClient, which
        # has no client-level resource) would let the canary read every client's secret in the pool.
        cfn_client: cognito.CfnUserPoolClient = self.client.node.default_child
        self.client_secret = secretsmanager.Secret(
            self,
            "ClientSecret",
            description=f"The synthetic check's Cognito client secret ({spec.name})",
            secret_string_value=SecretValue.resource_attribute(cfn_client.attr_client_secret),
            encryption_key=data_key(self, spec),
            # A copy of a client's secret: it goes with the client, whatever the environment.
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(self.client_secret, "AwsSolutions-SMG4", reason_key="AwsSolutions-SMG4 canary client")
        if self.client_secret.encryption_key is None:
            acknowledge_checkov(
                self.client_secret.node.default_child,
                "CKV_AWS_149",
                reason_key="CKV_AWS_149 AWS-managed keys",
            )
        name = f"svc-{spec.name}"
        artifacts_prefix = "canary"
        self.canary = synthetics.Canary(
            self,
            "Canary",
            canary_name=name,
            # Inline policies are part of the role: the first run cannot start before its permissions.
            role=self._role(name, artifacts, artifacts_prefix, self.client_secret),
            runtime=RUNTIME,
            test=synthetics.Test.custom(
                code=synthetics.Code.from_inline(CANARY_CODE.read_text()), handler="index.handler"
            ),
            schedule=synthetics.Schedule.rate(SCHEDULE),
            artifacts_bucket_location=synthetics.ArtifactsBucketLocation(
                bucket=artifacts, prefix=artifacts_prefix
            ),
            provisioned_resource_cleanup=True,
            environment_variables={
                "API_URL": api_url,
                "ITEM_PATH": ITEM_PATH,
                "ITEM_TTL_SECONDS": str(ITEM_TTL_SECONDS),
                "ROUNDS": str(ROUNDS),
                "TOKEN_URL": token_url,
                "SCOPE": scope_name,
                "CLIENT_ID": self.client.user_pool_client_id,
                "CLIENT_SECRET_ID": self.client_secret.secret_arn,
            },
        )

    def _role(
        self, name: str, artifacts: s3.IBucket, prefix: str, secret: secretsmanager.ISecret
    ) -> iam.Role:
        """What the Synthetics runtime needs (CloudWatch docs, "Required roles and permissions for
        canaries"), with the log group narrowed to this canary's function, `cwsyn-<name>-<id>`."""
        stack = Stack.of(self)
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/lambda/cwsyn-{name}-*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Synthetic check: its artifacts, metrics and logs, and its own client's secret",
            inline_policies={
                "canary": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["s3:ListAllMyBuckets"], resources=["*"]),
                        iam.PolicyStatement(
                            actions=["s3:GetBucketLocation"], resources=[artifacts.bucket_arn]
                        ),
                        iam.PolicyStatement(
                            actions=["s3:PutObject"], resources=[artifacts.arn_for_objects(f"{prefix}/*")]
                        ),
                        iam.PolicyStatement(
                            actions=["cloudwatch:PutMetricData"],
                            resources=["*"],
                            conditions={"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}},
                        ),
                        iam.PolicyStatement(
                            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[log_groups],
                        ),
                        iam.PolicyStatement(
                            actions=["secretsmanager:GetSecretValue"], resources=[secret.secret_arn]
                        ),
                        *self._key_statements(secret),
                    ]
                )
            },
        )
        acknowledge(
            role, "AwsSolutions-IAM5[Resource::*]", reason_key="AwsSolutions-IAM5[Resource::*] canary"
        )
        bucket_id = stack.get_logical_id(artifacts.node.default_child)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}/*]",
            reason_key="AwsSolutions-IAM5[Resource::<canary artifacts>/*]",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:{nag_partition(stack)}:logs:{stack.region}:<AWS::AccountId>:"
            f"log-group:/aws/lambda/cwsyn-{name}-*]",
            reason_key="AwsSolutions-IAM5[Resource::<canary function log group>-*]",
        )
        return role

    @staticmethod
    def _key_statements(secret: secretsmanager.ISecret) -> list[iam.PolicyStatement]:
        """Decrypting its secret under the stack's key, through Secrets Manager only."""
        if secret.encryption_key is None:
            return []
        region = Stack.of(secret).region
        return [
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[secret.encryption_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            )
        ]
