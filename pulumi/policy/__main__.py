"""`pulumi preview --policy-pack pulumi/policy`: the statelessness rules for Azure and Google Cloud stacks."""

from pulumi_policy import EnforcementLevel, PolicyPack
from stateless_policies import POLICIES

PolicyPack(name="stateless", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
