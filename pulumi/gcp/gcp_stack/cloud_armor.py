"""The load balancer's Cloud Armor policy. Cloud Armor applies the first rule that matches, in priority order
(cloud.google.com/armor/docs/rules-language-reference), so every deny comes before the only rule that can
allow, and the default rule denies:

1. the OWASP rule sets (deny 403);
2. requests carrying a bearer token (the gateway always sends its ID token as one): throttled per source IP
   to the whole API's budget (edge_rate), 429 above it;
3. everything else, which did not come through the gateway: deny 403.

The bearer check is only a shape check (anyone can forge the header); the instances verify the token.
Why a throttle and not a rate-based ban: every legitimate request comes from API Gateway's Google addresses,
how many is undocumented and they may be shared, so one address may carry every consumer at once. Its limit
is therefore the whole API's budget, not one consumer's quota, and exceeding it only turns away the excess:
a ban would fail every consumer behind that address for its duration. A ban could not hold the budget anyway
(Cloud Armor caps a ban rule's count at 10,000, below production's budget even over 10 s). A forger with
one address still gets no more than the API's budget, which the fleet is sized for; the 429 alert
(monitoring) shows when the gateway itself is being throttled. X-Forwarded-For is the client's to write,
so nothing keys on it."""

from __future__ import annotations

import pulumi
import pulumi_gcp.compute as compute

from gcp_stack.edge_rate import THROTTLED_STATUS, EdgeRate
from sample_service.defaults import MAX_BODY_BYTES

DEFAULT_RULE_PRIORITY = 2147483647
WAF_PRIORITY = 1000
GATEWAY_PRIORITY = 2000
# Cloud Armor's preconfigured OWASP rule sets, at the lowest false-positive sensitivity.
WAF_RULE_SETS = (
    "sqli-v33-stable",
    "xss-v33-stable",
    "lfi-v33-stable",
    "rce-v33-stable",
    "scannerdetection-v33-stable",
)
# What a request through the gateway carries. A request without the header does not match (whether the
# missing header reads as an error or as ''), so it falls through to the default rule, which denies.
GATEWAY_TOKEN_EXPRESSION = "request.headers['authorization'].startsWith('Bearer ')"
# How much of a body the WAF rule sets read (Cloud Armor reads 8 KB unless told more; 64 KB at most).
BODY_INSPECTION_SIZES_KB = (8, 16, 32, 48, 64)


def body_inspection_size(max_body_bytes: int = MAX_BODY_BYTES) -> str:
    """The smallest inspection size that covers every body the service accepts, so an attack cannot hide
    behind padding the WAF never reads."""
    for size in BODY_INSPECTION_SIZES_KB:
        if size * 1024 >= max_body_bytes:
            return f"{size}KB"
    raise ValueError(
        f"the service accepts bodies of {max_body_bytes} bytes; Cloud Armor inspects at most "
        f"{BODY_INSPECTION_SIZES_KB[-1]} KB"
    )


def _rule(
    priority: int, action: str, expression: str, description: str, **kwargs
) -> compute.SecurityPolicyRuleArgs:
    return compute.SecurityPolicyRuleArgs(
        priority=priority,
        action=action,
        description=description,
        match=compute.SecurityPolicyRuleMatchArgs(
            expr=compute.SecurityPolicyRuleMatchExprArgs(expression=expression)
        ),
        **kwargs,
    )


def _per_address_limit(rate: EdgeRate) -> compute.SecurityPolicyRuleRateLimitOptionsArgs:
    return compute.SecurityPolicyRuleRateLimitOptionsArgs(
        conform_action="allow",
        exceed_action=f"deny({THROTTLED_STATUS})",
        enforce_on_key="IP",
        rate_limit_threshold=compute.SecurityPolicyRuleRateLimitOptionsRateLimitThresholdArgs(
            count=rate.count, interval_sec=rate.interval_sec
        ),
    )


def security_policy(
    environment: str, *, production: bool, rate: EdgeRate, opts: pulumi.ResourceOptions
) -> compute.SecurityPolicy:
    """The edge policy; `rate` is the per-address throttle (edge_rate), `production` turns on Adaptive
    Protection's layer-7 DDoS defense."""
    rules = [
        _rule(
            WAF_PRIORITY + offset,
            "deny(403)",
            f"evaluatePreconfiguredWaf('{rule_set}', {{'sensitivity': 1}})",
            f"OWASP {rule_set}",
        )
        for offset, rule_set in enumerate(WAF_RULE_SETS)
    ]
    rules.append(
        _rule(
            GATEWAY_PRIORITY,
            "throttle",
            GATEWAY_TOKEN_EXPRESSION,
            "Bearer token: allowed up to the whole API's budget per source IP",
            rate_limit_options=_per_address_limit(rate),
        )
    )
    rules.append(
        compute.SecurityPolicyRuleArgs(
            priority=DEFAULT_RULE_PRIORITY,
            action="deny(403)",
            description="No gateway token: not through the API gateway",
            match=compute.SecurityPolicyRuleMatchArgs(
                versioned_expr="SRC_IPS_V1",
                config=compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"]),
            ),
        )
    )
    return compute.SecurityPolicy(
        "edge",
        description=f"Stateless service edge policy ({environment})",
        type="CLOUD_ARMOR",
        rules=rules,
        # JSON bodies are parsed: the rule sets read values, not JSON syntax (fewer false positives).
        advanced_options_config=compute.SecurityPolicyAdvancedOptionsConfigArgs(
            json_parsing="STANDARD", request_body_inspection_size=body_inspection_size()
        ),
        adaptive_protection_config=compute.SecurityPolicyAdaptiveProtectionConfigArgs(
            layer7_ddos_defense_config=compute.SecurityPolicyAdaptiveProtectionConfigLayer7DdosDefenseConfigArgs(
                enable=production
            )
        ),
        opts=opts,
    )
