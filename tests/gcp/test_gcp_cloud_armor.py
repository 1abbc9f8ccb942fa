"""What the edge does with sample requests: the recorded Cloud Armor policy applied with Cloud Armor's own
first-match and rate-limit semantics (cloud_armor_evaluator), so a reordering that lets an attack through,
or a limit everyone shares, fails here."""

from __future__ import annotations

import copy

import pytest
from cloud_armor_evaluator import WAF_SIGNATURES, CloudArmor, SampleRequest
from gcp_queries import openapi

from sample_service.defaults import MAX_BODY_BYTES
from sample_service.paths import HEALTH_PATH

TOKEN = {"authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.gateway-id-token"}
FORGED = {"authorization": "Bearer forged"}
GATEWAY_IP, ATTACKER_IP = "35.187.0.10", "203.0.113.66"
# Both readings of a header the request lacks (CEL's no-such-key error, or ''): the policy holds under each.
MISSING_HEADER = pytest.mark.parametrize("missing_header_is_empty", [False, True], ids=["error", "empty"])


def _rules(inventory) -> list[dict]:
    return inventory.only("gcp:compute/securityPolicy:SecurityPolicy").get("rules")


def _limit(inventory) -> dict:
    [limited] = [rule for rule in _rules(inventory) if "rateLimitOptions" in rule]
    return limited["rateLimitOptions"]


def _edge(inventory, missing_header_is_empty=False, rules=None) -> CloudArmor:
    policy = inventory.only("gcp:compute/securityPolicy:SecurityPolicy")
    return CloudArmor(
        rules or _rules(inventory),
        missing_header_is_empty=missing_header_is_empty,
        advanced_options=policy.get("advancedOptionsConfig", None),
    )


@MISSING_HEADER
def test_an_sql_injection_probe_with_a_token_under_the_rate_limit_is_denied(
    inventory, missing_header_is_empty
):
    edge = _edge(inventory, missing_header_is_empty)
    probe = SampleRequest(headers=TOKEN, **WAF_SIGNATURES["sqli-v33-stable"][1])
    assert edge.decide(SampleRequest(headers=TOKEN)).allowed, "the probe must be under the rate limit"
    assert edge.decide(probe).status == 403


@MISSING_HEADER
def test_a_clean_request_with_a_bearer_token_is_allowed(inventory, missing_header_is_empty):
    assert _edge(inventory, missing_header_is_empty).decide(SampleRequest(headers=TOKEN)).allowed


@MISSING_HEADER
@pytest.mark.parametrize(
    "headers", [{}, {"authorization": "Basic dXNlcjpwYXNz"}, {"authorization": "bearer lowercase"}]
)
def test_a_request_without_a_bearer_token_is_denied(inventory, missing_header_is_empty, headers):
    assert _edge(inventory, missing_header_is_empty).decide(SampleRequest(headers=headers)).status == 403


@pytest.mark.parametrize("rule_set", sorted(WAF_SIGNATURES))
def test_every_owasp_rule_set_turns_away_its_probe_even_with_a_token(inventory, rule_set):
    recorded = {rule["match"]["expr"]["expression"] for rule in _rules(inventory) if "expr" in rule["match"]}
    assert any(f"'{rule_set}'" in expression for expression in recorded), f"{rule_set} is not in the policy"
    probe = WAF_SIGNATURES[rule_set][1]
    headers = {**TOKEN, **probe.get("headers", {})}
    decision = _edge(inventory).decide(SampleRequest(**{**probe, "headers": headers}))
    assert decision.status == 403


def test_an_attack_padded_to_the_largest_body_the_service_accepts_is_still_read(inventory):
    attack = WAF_SIGNATURES["sqli-v33-stable"][1]["query"]
    padding = "x" * (MAX_BODY_BYTES - len(attack) - len('{"note": "", "id": ""}'))
    body = f'{{"note": "{padding}", "id": "{attack}"}}'
    assert len(body.encode()) <= MAX_BODY_BYTES, "the service would read this body"
    decision = _edge(inventory).decide(SampleRequest(method="PUT", headers=TOKEN, body=body))
    assert decision.status == 403
    policy = inventory.only("gcp:compute/securityPolicy:SecurityPolicy")
    assert policy.get("advancedOptionsConfig.jsonParsing") == "STANDARD"


def test_a_forger_drains_only_their_own_address_and_is_banned_while_the_gateway_is_served(inventory, spec):
    options = _limit(inventory)
    assert options["enforceOnKey"] == "IP"
    # The same per-minute figure as the gateway's quota: its traffic, all addresses together, stays below it.
    quota = openapi(inventory)["x-google-management"]["quota"]["limits"][0]["values"]["STANDARD"]
    assert options["rateLimitThreshold"] == {"count": quota, "intervalSec": 60}
    edge, limit = _edge(inventory), options["rateLimitThreshold"]["count"]
    forged = [edge.decide(SampleRequest(headers=FORGED, source_ip=ATTACKER_IP, at=0.1)) for _ in range(limit)]
    assert all(decision.allowed for decision in forged)
    assert edge.decide(SampleRequest(headers=FORGED, source_ip=ATTACKER_IP, at=1)).status == 429
    assert edge.decide(SampleRequest(headers=TOKEN, source_ip=GATEWAY_IP, at=1)).allowed
    # Keep going past the ban threshold: the address stays out after the minute is over, for the ban.
    ban = options["banThreshold"]["count"]
    for _ in range(ban):
        edge.decide(SampleRequest(headers=FORGED, source_ip=ATTACKER_IP, at=2))
    assert edge.decide(SampleRequest(headers=FORGED, source_ip=ATTACKER_IP, at=61)).status == 429
    assert edge.decide(
        SampleRequest(headers=FORGED, source_ip=ATTACKER_IP, at=2 + options["banDurationSec"])
    ).allowed
    assert edge.decide(SampleRequest(headers=TOKEN, source_ip=GATEWAY_IP, at=61)).allowed


@MISSING_HEADER
def test_health_is_no_exception_at_the_edge(inventory, missing_header_is_empty):
    """The decision: the load balancer's health checks reach instances directly (not through Cloud Armor), and
    the uptime check comes through the gateway with its token, so /health needs no exemption. Without a bearer
    header it is denied like any path; a forged header reaches it (Cloud Armor cannot verify a token, and the
    shallow check reveals nothing but "up") within that address's rate limit, like any path."""
    edge, limit = _edge(inventory, missing_header_is_empty), _limit(inventory)["rateLimitThreshold"]["count"]
    assert edge.decide(SampleRequest(path=HEALTH_PATH)).status == 403
    decisions = [
        edge.decide(SampleRequest(path=HEALTH_PATH, headers=FORGED, source_ip=ATTACKER_IP))
        for _ in range(limit)
    ]
    assert all(decision.allowed for decision in decisions)
    assert edge.decide(SampleRequest(path=HEALTH_PATH, headers=FORGED, source_ip=ATTACKER_IP)).status == 429
    assert all("request.path" not in str(rule["match"]) for rule in _rules(inventory))


def test_the_evaluator_catches_an_allow_ahead_of_the_waf(inventory):
    """The guard can fail: the old order (the rate-limited allow at priority 200, ahead of the WAF at 1000+)
    lets the probe through."""
    rules = copy.deepcopy(_rules(inventory))
    next(rule for rule in rules if "rateLimitOptions" in rule)["priority"] = 200
    probe = SampleRequest(headers=TOKEN, **WAF_SIGNATURES["sqli-v33-stable"][1])
    assert _edge(inventory, rules=rules).decide(probe).allowed


def test_the_evaluator_refuses_what_it_does_not_model(inventory):
    rules = copy.deepcopy(_rules(inventory))
    rules[0]["match"]["expr"]["expression"] = "origin.region_code == 'AU'"
    with pytest.raises(NotImplementedError, match=r"origin\.region_code"):
        CloudArmor(rules)


def test_a_body_limit_beyond_what_cloud_armor_can_read_is_refused(gcp):
    size = gcp.module("cloud_armor").body_inspection_size
    assert (size(8 * 1024), size(8 * 1024 + 1), size(64 * 1024)) == ("8KB", "16KB", "64KB")
    with pytest.raises(ValueError, match="inspects at most 64 KB"):
        size(64 * 1024 + 1)


def test_the_evaluator_reads_only_what_the_policy_inspects(inventory):
    """The guard can fail: at Cloud Armor's default inspection size (8 KB) the padded attack passes."""
    attack = WAF_SIGNATURES["sqli-v33-stable"][1]["query"]
    body = '{"note": "' + "x" * 9000 + '", "id": "' + attack + '"}'
    edge = CloudArmor(_rules(inventory))
    assert edge.decide(SampleRequest(method="PUT", headers=TOKEN, body=body)).allowed
