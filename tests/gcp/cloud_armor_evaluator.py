"""Applies a recorded Cloud Armor policy to sample requests the way Cloud Armor does, so a test can ask what
the edge would do with a request instead of reading rule fields.

Semantics modelled, from Google's documentation:
- Rules are tried in priority order (lowest number first); the first rule that matches decides, and no rule
  after it is evaluated (cloud.google.com/armor/docs/rules-language-reference, first paragraph).
- `throttle`: per key, requests within `rateLimitThreshold` (count per intervalSec) get `conformAction`
  (only "allow" is valid), the rest `exceedAction` (SecurityPolicyRuleRateLimitOptions, Compute API).
- `rate_based_ban`: as throttle, and once the requests that exceeded the threshold also exceed
  `banThreshold` within its interval, every request of that key gets `exceedAction` for `banDurationSec`
  (cloud.google.com/armor/docs/rate-limiting-overview).
- `enforceOnKey`: ALL (one key) or IP (the request's source address); the others are not modelled.
- The WAF rule sets read only the first `advancedOptionsConfig.requestBodyInspectionSize` of a body, 8 KB
  when unset (SecurityPolicyAdvancedOptionsConfig, Compute API).
Windows are fixed, starting at a key's first request: Cloud Armor does not document its algorithm, and the
tests send bursts well inside one window.

Expressions are a small subset of the custom rules language, each mapped to a predicate; anything else
raises, so a new kind of rule must be modelled before a test can pass. `evaluatePreconfiguredWaf` is modelled
by a signature per rule set that the sample attacks carry (Cloud Armor's real signatures are ModSecurity CRS
3.3 rules; these are enough to recognise the probes, not a WAF).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# One recognisable attack per preconfigured rule set: (signature the model matches, a probe that carries it).
WAF_SIGNATURES: dict[str, tuple[re.Pattern[str], dict[str, Any]]] = {
    "sqli-v33-stable": (
        re.compile(r"(?i)('|\")\s*(or|and)\s+[^=]+=|\bunion\b.+\bselect\b|;\s*drop\s+table"),
        {"path": "/items/1", "query": "id=1' OR '1'='1"},
    ),
    "xss-v33-stable": (
        re.compile(r"(?i)<\s*script|javascript:|\bon(error|load)\s*="),
        {"path": "/items/1", "query": "q=<script>alert(1)</script>"},
    ),
    "lfi-v33-stable": (
        re.compile(r"\.\./|/etc/passwd"),
        {"path": "/items/1", "query": "file=../../etc/passwd"},
    ),
    "rce-v33-stable": (
        re.compile(r"(?i)(;|\|\||&&|\$\(|`)\s*(cat|curl|wget|bash|sh|nc)\b"),
        {"path": "/items/1", "query": "cmd=x;cat /etc/shadow"},
    ),
    "scannerdetection-v33-stable": (
        re.compile(r"(?i)sqlmap|nikto|nessus|masscan|acunetix"),
        {"path": "/items/1", "headers": {"user-agent": "sqlmap/1.7"}},
    ),
}


class MissingHeader(Exception):
    """What CEL gives for a map key that is absent: an error, so the rule does not match."""


@dataclass(frozen=True)
class SampleRequest:
    path: str = "/items/1"
    method: str = "GET"
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    source_ip: str = "198.51.100.7"
    at: float = 0.0  # seconds since the first request of the test

    def inspected(self, body_bytes: int) -> str:
        """What the WAF signatures read: the decoded URL, the header values and the body's first bytes."""
        query = urllib.parse.unquote_plus(self.query)
        body = self.body.encode()[:body_bytes].decode(errors="ignore")
        return "\n".join([self.path, query, *self.headers.values(), body])


@dataclass(frozen=True)
class Decision:
    priority: int
    action: str  # "allow" or "deny(STATUS)"

    @property
    def allowed(self) -> bool:
        return self.action == "allow"

    @property
    def status(self) -> int:
        match = re.fullmatch(r"deny\((\d{3})\)", self.action)
        return int(match.group(1)) if match else 200


_HEADER_PREFIX = re.compile(r"^(!?)request\.headers\['([a-z0-9-]+)'\]\.startsWith\('([^']*)'\)$")
_PATH_EQUALS = re.compile(r"^request\.path\s*==\s*'([^']*)'$")
_WAF = re.compile(r"^evaluatePreconfiguredWaf\('([a-z0-9.-]+)'(?:,\s*\{'sensitivity':\s*[1-4]\})?\)$")


def predicate(
    expression: str, missing_header_is_empty: bool, body_bytes: int = 8 * 1024
) -> Callable[[SampleRequest], bool]:
    """The expression as a predicate. A header the request lacks raises MissingHeader (CEL's no-such-key
    error, and the rule does not match) unless `missing_header_is_empty`, when it reads as ''."""
    expression = expression.strip()
    if expression == "true":
        return lambda request: True
    if match := _HEADER_PREFIX.fullmatch(expression):
        negated, name, prefix = match.group(1) == "!", match.group(2), match.group(3)

        def header_starts_with(request: SampleRequest) -> bool:
            headers = {key.lower(): value for key, value in request.headers.items()}
            if name not in headers and not missing_header_is_empty:
                raise MissingHeader(name)
            return headers.get(name, "").startswith(prefix) != negated

        return header_starts_with
    if match := _PATH_EQUALS.fullmatch(expression):
        return lambda request: request.path == match.group(1)
    if match := _WAF.fullmatch(expression):
        if match.group(1) not in WAF_SIGNATURES:
            raise NotImplementedError(f"no model of the preconfigured rule set {match.group(1)!r}")
        signature = WAF_SIGNATURES[match.group(1)][0]
        return lambda request: bool(signature.search(request.inspected(body_bytes)))
    raise NotImplementedError(f"the evaluator does not model the expression {expression!r}")


def _matcher(
    rule: Mapping[str, Any], missing_header_is_empty: bool, body_bytes: int
) -> Callable[[SampleRequest], bool]:
    match = rule["match"]
    if "expr" in match:
        test = predicate(match["expr"]["expression"], missing_header_is_empty, body_bytes)

        def matches(request: SampleRequest) -> bool:
            try:
                return test(request)
            except MissingHeader:
                return False

        return matches
    if match.get("versionedExpr") == "SRC_IPS_V1":
        ranges = match["config"]["srcIpRanges"]
        if ranges != ["*"]:
            raise NotImplementedError(f"the evaluator models only src_ip_ranges ['*'], not {ranges}")
        return lambda request: True
    raise NotImplementedError(f"the evaluator does not model the match {match}")


@dataclass
class _Window:
    start: float
    count: int = 0


class _RateRule:
    """One throttle or rate_based_ban rule's counters, per key."""

    def __init__(self, rule: Mapping[str, Any]) -> None:
        options = rule["rateLimitOptions"]
        self.ban = rule["action"] == "rate_based_ban"
        if options.get("conformAction") != "allow":
            raise ValueError(f"conformAction must be 'allow' (the only valid value), not {options}")
        self.exceed = options["exceedAction"]
        self.key = options.get("enforceOnKey", "ALL")
        if self.key not in ("ALL", "IP"):
            raise NotImplementedError(f"the evaluator models enforceOnKey ALL and IP, not {self.key}")
        self.limit = options["rateLimitThreshold"]
        self.ban_threshold = options.get("banThreshold") if self.ban else None
        self.ban_seconds = options.get("banDurationSec", 0) if self.ban else 0
        self.windows: dict[str, _Window] = {}
        self.excess: dict[str, _Window] = {}
        self.banned_until: dict[str, float] = {}

    @staticmethod
    def _count(windows: dict[str, _Window], key: str, at: float, interval: int) -> int:
        window = windows.get(key)
        if window is None or at >= window.start + interval:
            window = windows[key] = _Window(at)
        window.count += 1
        return window.count

    def apply(self, request: SampleRequest) -> str:
        key = request.source_ip if self.key == "IP" else ""
        if request.at < self.banned_until.get(key, float("-inf")):
            return self.exceed
        if self._count(self.windows, key, request.at, self.limit["intervalSec"]) <= self.limit["count"]:
            return "allow"
        if self.ban:
            threshold = self.ban_threshold or self.limit  # without banThreshold, exceeding the limit bans
            excess = self._count(self.excess, key, request.at, threshold["intervalSec"])
            if excess > threshold["count"] or self.ban_threshold is None:
                self.banned_until[key] = request.at + self.ban_seconds
        return self.exceed


class CloudArmor:
    """A policy's rules (as recorded in the inventory), applied to one request after another."""

    def __init__(
        self,
        rules: list[Mapping[str, Any]],
        *,
        missing_header_is_empty: bool = False,
        advanced_options: Mapping[str, Any] | None = None,
    ) -> None:
        size = (advanced_options or {}).get("requestBodyInspectionSize", "8KB")
        body_bytes = int(re.fullmatch(r"(\d+)KB", size, re.I).group(1)) * 1024
        priorities = [rule["priority"] for rule in rules]
        if len(set(priorities)) != len(priorities):
            raise ValueError(f"two rules share a priority: {sorted(priorities)}")
        self._rules = [
            (rule["priority"], rule["action"], _matcher(rule, missing_header_is_empty, body_bytes), rule)
            for rule in sorted(rules, key=lambda rule: rule["priority"])
        ]
        self._rates = {
            rule["priority"]: _RateRule(rule)
            for rule in rules
            if rule["action"] in ("throttle", "rate_based_ban")
        }

    def decide(self, request: SampleRequest) -> Decision:
        for priority, action, matches, _ in self._rules:
            if not matches(request):
                continue
            if priority in self._rates:
                return Decision(priority, self._rates[priority].apply(request))
            if action == "allow" or re.fullmatch(r"deny\((403|404|429|502)\)", action):
                return Decision(priority, action)
            raise NotImplementedError(f"the evaluator does not model the action {action!r}")
        raise AssertionError("no rule matched: a Cloud Armor policy always ends in a match-all default rule")
