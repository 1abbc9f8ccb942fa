"""The catalogue of cdk-nag and checkov findings this project accepts, each with the reason it is accepted.

Constructs call `acknowledge(scope, rule_id)` (cdk-nag) or `acknowledge_checkov(resource, check_id)`; the
reason lives here, once. Every call is recorded in construct metadata so tests can prove each
acknowledgment suppresses exactly what it names. Set the context value `refarch:acknowledge` to false to
synthesize with none applied.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Token, Validations
from constructs import IConstruct

from stacks.findings import CONTROLS_ACKNOWLEDGED

METADATA_TYPE = "refarch:nag-acknowledgment"

REASONS: dict[str, str] = {
    "AwsSolutions-IAM5[Resource::*] session manager": (
        "Session Manager replaces SSH: its agent's channel actions (ssmmessages) have no resource type; the "
        "policy grants nothing else on every resource."
    ),
    "AwsSolutions-IAM5[Resource::<instances>/*] session manager": (
        "The SSM agent registers the instance it runs on (ssm:UpdateInstanceInformation); fleet instances "
        "are replaced at will, so their ids are not known in advance."
    ),
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AmazonAPIGatewayPushToCloudWatchLogs]": (
        "The account-level role API Gateway needs to write execution logs; AWS maintains its scope."
    ),
    "AwsSolutions-SMG4": (
        "ElastiCache AUTH tokens rotate through ModifyReplicationGroup with "
        "AuthTokenUpdateStrategy=ROTATE; the README's known limits describe this manual, "
        "zero-downtime rotation in place of a rotation Lambda."
    ),
    "AwsSolutions-SMG4 canary client": (
        "The secret holds a copy of the synthetic check's Cognito client secret, which Cognito generates; a "
        "rotation Lambda could not change it. Replacing the client (a new construct id) replaces both."
    ),
    "AwsSolutions-AEC4": (
        "Non-production environment sized by the spec with no cache replica; "
        "the spec refuses this in production."
    ),
    "AwsSolutions-COG2": (
        "The user pool serves machine clients through the OAuth client-credentials flow, which has no "
        "interactive second factor; human sign-up is disabled."
    ),
    "AwsSolutions-APIG2": (
        "The API is a transparent proxy with no single body schema: the gateway validates the proxy "
        "parameters and the service validates every body, answering 4xx itself."
    ),
    "AwsSolutions-IAM5[Resource::*] canary": (
        "The synthetic check's role: s3:ListAllMyBuckets and cloudwatch:PutMetricData (conditioned on the "
        "CloudWatchSynthetics namespace) cannot name a resource; the Synthetics runtime requires both."
    ),
    "AwsSolutions-IAM5[Resource::<canary artifacts>/*]": (
        "The synthetic check writes run artifacts under its own prefix of the access-log bucket; S3 cannot "
        "name objects that do not exist yet."
    ),
    "AwsSolutions-IAM5[Resource::<canary function log group>-*]": (
        "The synthetic check's Lambda function is named cwsyn-<canary name>-<generated id>; the wildcard "
        "covers only that generated id."
    ),
    "AwsSolutions-EC26": (
        "cdk-nag cannot follow the group's MixedInstancesPolicy to its launch template (an intrinsic "
        "reference) and reports an error instead; that template's only volume is encrypted, which "
        "tests/aws/test_tiers.py asserts."
    ),
    # checkov (`make synth` runs it on every template; skips live in each resource's Metadata.checkov).
    "CKV_AWS_158 AWS-managed keys": (
        "The spec keeps AWS-managed keys in this environment (encryption.customer_managed_keys = false): "
        "CloudWatch Logs encrypts the group with its own key; production uses the stack's KMS key."
    ),
    "CKV_AWS_119 AWS-managed keys": (
        "The spec keeps AWS-managed keys in this environment (encryption.customer_managed_keys = false): "
        "the table is encrypted under the AWS-managed DynamoDB key; production uses the stack's KMS key."
    ),
    "CKV_AWS_149 AWS-managed keys": (
        "The spec keeps AWS-managed keys in this environment (encryption.customer_managed_keys = false): "
        "the AUTH secret is encrypted under aws/secretsmanager; production uses the stack's KMS key."
    ),
    "CKV_AWS_18": (
        "This bucket is the access-log destination itself: logging it to itself would log every log "
        "delivery in a loop, and no other bucket in the stack is a better audit trail for it."
    ),
    "CKV_AWS_21": (
        "Access logs are written once by the log delivery services and expire by lifecycle; versions would "
        "only keep expired logs. The bucket is retained, public access is blocked and TLS is enforced."
    ),
    "CKV_AWS_2": (
        "No certificate in the spec (tls.certificate_arn): the internal load balancer is reached only by the "
        "API gateway's VPC link, inside the VPC; setting a certificate makes the listener HTTPS only."
    ),
    "CKV_AWS_103": (
        "No certificate in the spec (tls.certificate_arn), so no TLS policy applies to this HTTP listener; "
        "with one, the listener uses a TLS 1.2/1.3 policy."
    ),
    "CKV_AWS_33": (
        "The topic key's wildcard principal is narrowed by conditions to one role: aws:PrincipalArn is Auto "
        "Scaling's service-linked role, kms:CallerAccount this account, kms:ViaService SNS. Naming the role "
        "as principal would fail CreateKey in an account that has never had an Auto Scaling group."
    ),
    "CKV_AWS_120": (
        "The API serves per-client session and item reads with read-after-write semantics: a stage cache "
        "would return stale items and, keyed without the caller, could answer one client with another's data."
    ),
    # AWS Control Tower proactive controls (cfn-guard rules from @cdklabs/cdk-validator-cfnguard).
    "CT.CLOUDWATCH.PR.2 spec retention": (
        "The spec's retention.log_days for this environment is under a year: a non-production environment "
        "keeps logs only as long as they help debugging; production keeps them 365 days."
    ),
    "CT.CLOUDWATCH.PR.3 AWS-managed keys": (
        "The spec keeps AWS-managed keys in this environment (encryption.customer_managed_keys = false): "
        "CloudWatch Logs encrypts with its own key; production uses the stack's KMS key."
    ),
    "CT.EC2.PR.10": (
        "Detailed (1-minute) instance monitoring follows the spec's production flag; scaling and alarms in "
        "this non-production environment read load balancer metrics and 5-minute CPU."
    ),
    "CT.ELASTICLOADBALANCING.PR.5": (
        "Deletion protection follows the spec's production flag: a non-production environment must be "
        "torn down with its stack."
    ),
    "CT.ELASTICLOADBALANCING.PR.1": (
        "No certificate in the spec (tls.certificate_arn): the listener is HTTP inside the VPC, reached "
        "only through the gateway's VPC link; with a certificate there is only an HTTPS listener."
    ),
    "CT.AUTOSCALING.PR.11": (
        "Non-production environments run burstable t3/t3a types, which lack instance-to-instance in-transit "
        "encryption; the fleet's instances never talk to each other, only to the load balancer and AWS APIs."
    ),
    "CT.KMS.PR.3": (
        "kms:CreateGrant appears only in the account-root statement (the key policy's delegation to IAM, "
        "without which the key could become unmanageable) and for Secrets Manager through kms:ViaService."
    ),
    "CT.S3.PR.10 access logs": (
        "Load balancer access-log delivery and S3 server access logging write only to buckets with SSE-S3 "
        "default encryption, not SSE-KMS."
    ),
    "CT.S3.PR.10 files": (
        "The service is granted no access to the files bucket yet; it keeps SSE-S3 until an object "
        "workload and its readers, which would all need the key, exist."
    ),
    "CT.S3.PR.11": (
        "Access logs are written once by the log delivery services and expire by lifecycle; versions would "
        "only keep expired logs. The bucket is retained, public access is blocked and TLS is enforced."
    ),
    "CT.S3.PR.2": (
        "This bucket is the access-log destination itself: logging it to itself would log every log "
        "delivery in a loop, and no other bucket in the stack is a better audit trail for it."
    ),
    "CT.S3.PR.4": (
        "Nothing in the architecture reacts to new objects: an event notification would need a consumer "
        "that does not exist; CloudTrail data events are the audit trail where one is wanted."
    ),
    "CT.S3.PR.9": (
        "Object Lock would stop the lifecycle rules that expire access logs and old file versions; "
        "retention here is by lifecycle, and the buckets outlive the stack."
    ),
}


def nag_partition(stack: Stack) -> str:
    """The partition as cdk-nag writes it in a finding: a literal once the region is known (the
    `@aws-cdk/core:enablePartitionLiterals` flag), else the pseudo parameter."""
    return "<AWS::Partition>" if Token.is_unresolved(stack.partition) else stack.partition


def acknowledge_checkov(resource: CfnResource, check_id: str, *, reason_key: str | None = None) -> None:
    """Accept one checkov finding on exactly this CloudFormation resource, with the catalogued reason."""
    catalogue_key = reason_key or check_id
    reason = REASONS[catalogue_key]
    resource.node.add_metadata(
        METADATA_TYPE, {"rule": check_id, "catalogue": catalogue_key, "tool": "checkov"}
    )
    if resource.node.try_get_context("refarch:acknowledge") in (False, "false"):
        return
    skips = (resource.get_metadata("checkov") or {}).get("skip", [])
    resource.add_metadata("checkov", {"skip": [*skips, {"id": check_id, "comment": reason}]})


def acknowledge_control(resource: CfnResource, control_id: str, *, reason_key: str | None = None) -> None:
    """Accept one failed Control Tower proactive control on exactly this resource, with the catalogued
    reason; `make synth` subtracts it (stacks.findings.control_findings)."""
    catalogue_key = reason_key or control_id
    reason = REASONS[catalogue_key]
    resource.node.add_metadata(
        METADATA_TYPE, {"rule": control_id, "catalogue": catalogue_key, "tool": "cfn-guard"}
    )
    accepted = dict(resource.get_metadata(CONTROLS_ACKNOWLEDGED) or {})
    resource.add_metadata(CONTROLS_ACKNOWLEDGED, {**accepted, control_id: reason})


def acknowledge(scope: IConstruct, rule_id: str, *, reason_key: str | None = None) -> None:
    """Accept one cdk-nag finding on `scope` (and its children) with the catalogued reason.

    `reason_key` names the catalogue entry when the finding id holds a generated name (a logical id).
    """
    catalogue_key = reason_key or rule_id
    reason = REASONS[catalogue_key]
    scope.node.add_metadata(METADATA_TYPE, {"rule": rule_id, "catalogue": catalogue_key})
    if scope.node.try_get_context("refarch:acknowledge") in (False, "false"):
        return
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
