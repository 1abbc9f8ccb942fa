"""What the edge does with sample requests: the recorded Cloud Armor policy applied with Cloud Armor's own
first-match and rate-limit semantics (cloud_armor_evaluator), so a reordering that lets an attack through,
or a limit everyone shares, fails here."""

from __future__ import annotations

import copy

import pytest
from cloud_armor_evaluator import WAF_SIGNATURES, CloudArmor, SampleRequest

from refarch.spec import load_environment
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


def test_a_forger_is_throttled_to_the_apis_budget_while_the_gateway_is_served(inventory, gcp, spec):
    options, edge_rate = _limit(inventory), gcp.module("edge_rate")
    assert options["enforceOnKey"] == "IP"
    interval = options["rateLimitThreshold"]["intervalSec"]
    # The whole API's budget, not one consumer's quota: every consumer may arrive from one Google address.
    assert options["rateLimitThreshold"]["count"] == edge_rate.api_budget(spec, interval)
    edge, limit = _edge(inventory), options["rateLimitThreshold"]["count"]
    forged = [edge.decide(SampleRequest(headers=FORGED, source_ip=ATTACKER_IP, at=0.1)) for _ in range(limit)]
    assert all(decision.allowed for decision in forged)
    assert edge.decide(SampleRequest(headers=FORGED, source_ip=ATTACKER_IP, at=1)).status == 429
    assert edge.decide(SampleRequest(headers=TOKEN, source_ip=GATEWAY_IP, at=1)).allowed
    # No ban: the next interval serves the address again.
    assert edge.decide(SampleRequest(headers=FORGED, source_ip=ATTACKER_IP, at=0.1 + interval)).allowed


def test_the_gateway_sending_the_whole_api_budget_from_one_address_is_never_turned_away(inventory, spec):
    """The spec's burst at once, then its steady rate for the rest of the interval, all from one of Google's
    addresses: every request is served. The old per-consumer limit (rate x 60 s, no burst) fails this."""
    edge = _edge(inventory)
    interval = _limit(inventory)["rateLimitThreshold"]["intervalSec"]
    rate, burst = spec.api.throttle_rate_per_second, spec.api.throttle_burst
    times = [0.0] * burst + [i / rate for i in range(1, int(rate * interval))]
    decisions = [edge.decide(SampleRequest(headers=TOKEN, source_ip=GATEWAY_IP, at=at)) for at in times]
    assert all(decision.allowed for decision in decisions)


def test_the_edge_throttles_and_never_bans_an_address(inventory):
    """A ban would fail every consumer behind a shared gateway address for its whole duration."""
    [limited] = [rule for rule in _rules(inventory) if "rateLimitOptions" in rule]
    assert limited["action"] == "throttle"
    assert not {"banThreshold", "banDurationSec"} & set(limited["rateLimitOptions"])


def test_the_rate_limit_is_within_what_cloud_armor_accepts(inventory, gcp):
    """Cloud Armor counts 1 to 1,000,000 requests for a throttle and 1 to 10,000 for a rate-based ban, over
    one of its allowed intervals (cloud.google.com/armor/docs/rate-limiting-overview,
    "rate_limit_threshold_count"). The old ban rule (rate x 60 s) was 12,000 in staging, 60,000 in prod."""
    edge_rate = gcp.module("edge_rate")
    caps = {"throttle": edge_rate.THROTTLE_MAX_COUNT, "rate_based_ban": edge_rate.RATE_BASED_BAN_MAX_COUNT}
    for rule in _rules(inventory):
        if "rateLimitOptions" not in rule:
            continue
        options = rule["rateLimitOptions"]
        for threshold in (options["rateLimitThreshold"], options.get("banThreshold")):
            if threshold is None:
                continue
            assert 1 <= threshold["count"] <= caps[rule["action"]], (rule["action"], threshold)
            assert threshold["intervalSec"] in edge_rate.ALLOWED_INTERVALS_SECONDS, threshold


def test_a_spec_rate_the_edge_cannot_hold_is_refused_before_anything_is_built(gcp, monkeypatch):
    """The spec's own bounds keep every rate within the throttle's cap today; lower the cap below dev's
    budget and the same validation must refuse dev, naming the field, its value and the limit."""
    edge_rate = gcp.module("edge_rate")
    budget = edge_rate.api_budget(load_environment("dev"), edge_rate.ALLOWED_INTERVALS_SECONDS[0])
    monkeypatch.setattr(edge_rate, "THROTTLE_MAX_COUNT", budget - 1)
    refusal = gcp.refusal("dev", gcp.config("dev"))
    assert refusal.environment == "dev"
    [problem] = refusal.problems
    assert (problem.field, problem.value) == (
        "api.throttle_rate_per_second",
        load_environment("dev").api.throttle_rate_per_second,
    )
    assert f"at most {budget - 1:,} requests" in problem.rule


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
