"""The WAF admits every request the service accepts: body size and per-client rate.

AWS WAF, "Baseline rule groups" (AWSManagedRulesCommonRuleSet): SizeRestrictions_BODY blocks bodies over
8 KB. CloudFormation AWS::WAFv2::WebACL AssociationConfig: API Gateway forwards 16 KB of a body to WAF
unless raised to KB_32, KB_48 or KB_64; a body beyond that is "oversize" and OversizeHandling decides."""

from __future__ import annotations

from cfn_queries import only

from refarch.spec import load_environment
from sample_service.defaults import MAX_BODY_BYTES


def _rules(resources: dict) -> list[dict]:
    return only(resources, "AWS::WAFv2::WebACL")["Rules"]


def blocking_body_limits(acl: dict) -> list[int]:
    """Body sizes above which a rule of the web ACL blocks, the common rule set's 8 KB rule included."""
    limits = []
    for rule in acl["Rules"]:
        statement = rule["Statement"]
        if "ManagedRuleGroupStatement" in statement:
            group = statement["ManagedRuleGroupStatement"]
            counted = {
                override["Name"]
                for override in group.get("RuleActionOverrides", [])
                if "Count" in override["ActionToUse"]
            }
            if group["Name"] == "AWSManagedRulesCommonRuleSet" and "SizeRestrictions_BODY" not in counted:
                limits.append(8 * 1024)
        size = statement.get("SizeConstraintStatement")
        if size and "Body" in size["FieldToMatch"] and "Block" in rule.get("Action", {}):
            assert size["ComparisonOperator"] == "GT"
            limits.append(size["Size"])
    return limits


def inspected_body_bytes(acl: dict) -> int:
    limit = acl.get("AssociationConfig", {}).get("RequestBody", {}).get("API_GATEWAY", {})
    return int(limit.get("DefaultSizeInspectionLimit", "KB_16").removeprefix("KB_")) * 1024


def test_no_rule_blocks_a_body_the_service_accepts(resources):
    acl = only(resources, "AWS::WAFv2::WebACL")
    assert min(blocking_body_limits(acl)) == MAX_BODY_BYTES
    # WAF sees the whole of any body the service accepts, and treats larger ones as matching.
    assert inspected_body_bytes(acl) >= MAX_BODY_BYTES
    (size_rule,) = [r for r in acl["Rules"] if "SizeConstraintStatement" in r["Statement"]]
    assert (
        size_rule["Statement"]["SizeConstraintStatement"]["FieldToMatch"]["Body"]["OversizeHandling"]
        == "MATCH"
    )


def test_the_check_sees_the_common_rule_sets_own_limit(resources):
    import json

    acl = json.loads(json.dumps(only(resources, "AWS::WAFv2::WebACL")))
    for rule in acl["Rules"]:
        rule["Statement"].get("ManagedRuleGroupStatement", {}).pop("RuleActionOverrides", None)
    assert min(blocking_body_limits(acl)) == 8 * 1024 < MAX_BODY_BYTES


def test_per_ip_limit_is_the_spec_limit_derived_from_the_stage_throttle(resources, environment):
    spec = load_environment(environment)
    (rate,) = [r for r in _rules(resources) if "RateBasedStatement" in r["Statement"]]
    limit = rate["Statement"]["RateBasedStatement"]["Limit"]
    assert limit == spec.api.waf_requests_per_ip_per_5_minutes
    window = rate["Statement"]["RateBasedStatement"]["EvaluationWindowSec"]
    # One address may use a good share of the stage's rate, never more than all of it.
    stage_budget = spec.api.throttle_rate_per_second * window
    assert stage_budget / 4 <= limit <= stage_budget
