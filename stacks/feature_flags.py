"""CDK feature flags: cdk.json sets every flag `cdk init` sets for the pinned CLI (its
lib/init-templates/.recommended-feature-flags.json), to the recommended value except where this mapping
says why not. A test keeps cdk.json, the CLI's list and this mapping in step."""

from __future__ import annotations

# flag -> (value cdk.json sets, why it differs from the recommendation)
DEVIATIONS: dict[str, tuple[object, str]] = {
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": (
        False,
        "strips the VPC default security group's rules through a custom-resource Lambda in every stack "
        "(a function outside the VPC, without a dead-letter queue or reserved concurrency: three checkov "
        "findings and Control Tower's CT.LAMBDA.PR.3); nothing here uses the default group, every "
        "resource gets a group of its own",
    ),
}
