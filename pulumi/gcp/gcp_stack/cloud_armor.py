"""The load balancer's Cloud Armor policy: turn away what did not come through the gateway, cap the total
rate at the spec's API limit, and block common attacks before they reach an instance.

Per-client limits live in the gateway's per-consumer quota: behind API Gateway every request arrives from
Google's egress addresses, and the first X-Forwarded-For entry is whatever the client sent, so a key
on either would be no limit at all."""

from __future__ import annotations

import pulumi
import pulumi_gcp.compute as compute

from gcp_stack.openapi import requests_per_minute
from refarch.spec import EnvironmentSpec

DEFAULT_RULE_PRIORITY = 2147483647
# Cloud Armor's preconfigured OWASP rule sets, at the lowest false-positive sensitivity.
WAF_RULE_SETS = (
    "sqli-v33-stable",
    "xss-v33-stable",
    "lfi-v33-stable",
    "rce-v33-stable",
    "scannerdetection-v33-stable",
)
# The gateway always sends its ID token as a bearer token; a request without one did not come through it.
GATEWAY_TOKEN_EXPRESSION = "!request.headers['authorization'].startsWith('Bearer ')"


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


def security_policy(spec: EnvironmentSpec, opts: pulumi.ResourceOptions) -> compute.SecurityPolicy:
    rules = [
        _rule(100, "deny(403)", GATEWAY_TOKEN_EXPRESSION, "No gateway token: not through the API gateway"),
        _rule(
            200,
            "throttle",
            "true",
            "Backstop: all traffic together at the spec's API rate",
            rate_limit_options=compute.SecurityPolicyRuleRateLimitOptionsArgs(
                conform_action="allow",
                exceed_action="deny(429)",
                enforce_on_key="ALL",
                # The same per-minute figure as the gateway's quota, for all traffic together.
                rate_limit_threshold=compute.SecurityPolicyRuleRateLimitOptionsRateLimitThresholdArgs(
                    count=requests_per_minute(spec), interval_sec=60
                ),
            ),
        ),
    ]
    for offset, rule_set in enumerate(WAF_RULE_SETS):
        rules.append(
            _rule(
                1000 + offset,
                "deny(403)",
                f"evaluatePreconfiguredWaf('{rule_set}', {{'sensitivity': 1}})",
                f"OWASP {rule_set}",
            )
        )
    rules.append(
        compute.SecurityPolicyRuleArgs(
            priority=DEFAULT_RULE_PRIORITY,
            action="allow",
            description="Everything the rules above let through",
            match=compute.SecurityPolicyRuleMatchArgs(
                versioned_expr="SRC_IPS_V1",
                config=compute.SecurityPolicyRuleMatchConfigArgs(src_ip_ranges=["*"]),
            ),
        )
    )
    return compute.SecurityPolicy(
        "edge",
        description=f"Stateless service edge policy ({spec.name})",
        type="CLOUD_ARMOR",
        rules=rules,
        adaptive_protection_config=compute.SecurityPolicyAdaptiveProtectionConfigArgs(
            layer7_ddos_defense_config=compute.SecurityPolicyAdaptiveProtectionConfigLayer7DdosDefenseConfigArgs(
                enable=spec.production
            )
        ),
        opts=opts,
    )
