"""Egress limited to what instances need, and logs kept where they are read, for as long as the spec says.

Sources: cloud.google.com/vpc-service-controls/docs/private-connectivity (restricted.googleapis.com is
199.36.153.4/30; *.googleapis.com CNAME restricted.googleapis.com in a private zone; a route to the range via
default-internet-gateway); cloud.google.com/vpc-service-controls/docs/restricted-vip-services and
cloud.google.com/vpc/docs/configure-private-google-access ("Domain options": private.googleapis.com);
cloud.google.com/logging/docs/reference/v2/rest/v2/projects.exclusions (an exclusion applies to the
_Default sink); the Subnetwork log_config enums in the installed pulumi_gcp SDK."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

from gcp_queries import ref, service_environment

from sample_service.config import GatewayAuth

RESTRICTED_VIP = ipaddress.IPv4Network("199.36.153.4/30")
# private.googleapis.com: most Google APIs, whether or not VPC Service Controls supports them
# (cloud.google.com/vpc/docs/configure-private-google-access, "Domain options").
PRIVATE_VIP = ipaddress.IPv4Network("199.36.153.8/30")
# Hosts the restricted VIP serves that this tier calls (cloud.google.com/vpc-service-controls/docs/
# restricted-vip-services: the services VPC Service Controls supports, plus oauth2 and openidconnect as
# "Restricted VIP only"); www.googleapis.com is not listed.
RESTRICTED_VIP_SERVES = {
    "storage.googleapis.com",
    "secretmanager.googleapis.com",
    "firestore.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "oauth2.googleapis.com",
    "openidconnect.googleapis.com",
}
ANYWHERE = "0.0.0.0/0"


def _firewall(inventory) -> dict:
    return {rule.name: rule for rule in inventory.of_type("gcp:compute/firewall:Firewall")}


def _resolve(inventory, host: str) -> set[ipaddress.IPv4Address]:
    """What the private zone answers for `host`: its own record if it has one, else the wildcard, CNAMEs
    followed (DNS's closest-match rule, RFC 4592)."""
    records = {r.get("name"): r for r in inventory.of_type("gcp:dns/recordSet:RecordSet")}
    name = f"{host}."
    for _ in range(5):
        record = records.get(name) or records.get("*." + name.split(".", 1)[1])
        assert record, f"{host}: no record in the private zone"
        if record.get("type") == "A":
            return {ipaddress.IPv4Address(a) for a in record.get("rrdatas")}
        [name] = record.get("rrdatas")
    raise AssertionError(f"{host}: CNAME loop")


def _googleapis_hosts(inventory) -> set[str]:
    """The googleapis.com hosts an instance calls by name: the boot script's downloads, and the service's
    token-signing keys (GatewayAuth's default, unless the environment names another)."""
    script = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("metadata.startup-script")
    jwks = service_environment(inventory).get("GATEWAY_JWKS_URL", GatewayAuth("", "").jwks_url)
    urls = [*re.findall(r"https://[^\s'\"/]+", script), jwks]
    hosts = {urllib.parse.urlsplit(url).hostname for url in urls}
    return {host for host in hosts if host.endswith(".googleapis.com")} | _agent_hosts(inventory)


def _agent_hosts(inventory) -> set[str]:
    """The hosts the instances' agents call: the guest agent's Agent Communication Service for the group's
    zones and their region (VM Extension Manager's channel, "About VM Extension Manager"), and the Ops
    Agent's Cloud Logging and Cloud Monitoring."""
    zones = inventory.only("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager").get(
        "distributionPolicyZones"
    )
    locations = {*zones, *(zone.rsplit("-", 1)[0] for zone in zones)}
    agents = {f"{location}-agentcommunication.googleapis.com" for location in locations}
    return agents | {"logging.googleapis.com", "monitoring.googleapis.com"}


def test_google_apis_resolve_to_a_private_google_access_vip_inside_the_vpc(inventory):
    zone = inventory.only("gcp:dns/managedZone:ManagedZone")
    vpc = inventory.only("gcp:compute/network:Network")
    assert (zone.get("dnsName"), zone.get("visibility")) == ("googleapis.com.", "private")
    assert zone.get("privateVisibilityConfig.networks") == [{"networkUrl": ref(vpc)}]
    assert _resolve(inventory, "logging.googleapis.com") == set(RESTRICTED_VIP), "APIs default to restricted"
    routes = {
        ipaddress.IPv4Network(r.get("destRange"))
        for r in inventory.of_type("gcp:compute/route:Route")
        if (r.get("nextHopGateway"), r.get("network")) == ("default-internet-gateway", ref(vpc))
    }
    assert routes == {RESTRICTED_VIP, PRIVATE_VIP}


def test_every_google_host_an_instance_calls_is_served_by_the_vip_it_resolves_to(inventory):
    """The restricted VIP serves only what its list names; www.googleapis.com (the token-signing keys) is
    not on it, so the old zone, which sent every googleapis.com name there, would fail every token check."""
    hosts = _googleapis_hosts(inventory)
    assert {"storage.googleapis.com", "www.googleapis.com"} <= hosts
    rules = _firewall(inventory)
    for host in sorted(hosts):
        addresses = _resolve(inventory, host)
        vip = next((v for v in (RESTRICTED_VIP, PRIVATE_VIP) if addresses == set(v)), None)
        assert vip, f"{host} resolves to {addresses}, not a Private Google Access VIP"
        if vip == RESTRICTED_VIP:
            assert host in RESTRICTED_VIP_SERVES, f"{host} is not served on the restricted VIP"
        open_443 = [
            name
            for name, r in rules.items()
            if r.get("direction") == "EGRESS"
            and r.get("destinationRanges", None) == [str(vip)]
            and r.get("allows", None) == [{"protocol": "tcp", "ports": ["443"]}]
        ]
        assert open_443, f"no egress rule lets instances reach {host} on {vip}"


def test_instances_reach_the_vips_on_https_only(inventory):
    rules = _firewall(inventory)
    for vip in (RESTRICTED_VIP, PRIVATE_VIP):
        to_apis = [r for r in rules.values() if r.get("destinationRanges", None) == [str(vip)]]
        assert [r.get("allows") for r in to_apis] == [[{"protocol": "tcp", "ports": ["443"]}]], vip


def test_the_internet_is_open_to_instances_only_while_boot_installs_from_it(inventory):
    """While `fleet-to-package-mirrors` exists, instances may send HTTPS anywhere: it has the VIP rules'
    priority and covers their ranges, so they restrict nothing (pulumi/gcp/README.md, "Egress"). It must go as
    soon as boot installs nothing from the internet (issue 12); this fails until it does."""
    script = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("metadata.startup-script")
    rules = _firewall(inventory)
    open_out = {
        name
        for name, r in rules.items()
        if r.get("direction") == "EGRESS"
        and ANYWHERE in r.get("destinationRanges", [])
        and r.get("allows", None)
    }
    installs_from_internet = bool(
        re.search(r"apt-get install|pip\" install(?![^\n]*--no-index)|https://dl\.google\.com", script)
    )
    assert open_out == ({"fleet-to-package-mirrors"} if installs_from_internet else set())
    for name in open_out:
        ports = {port for allow in rules[name].get("allows") for port in allow["ports"]}
        assert ports <= {"80", "443"}, f"{name} opens {ports}"


def test_only_the_firewall_rules_worth_reading_are_logged(inventory):
    logged = {name for name, r in _firewall(inventory).items() if r.get("logConfig", None)}
    # What was refused (nothing may leave for the internet); not every load-balanced request or cache call.
    assert logged == {"deny-egress"}


def test_flow_logs_are_sampled_and_aggregated(inventory):
    log = inventory.only("gcp:compute/subnetwork:Subnetwork").get("logConfig")
    assert log["flowSampling"] <= 0.5
    assert log["aggregationInterval"] not in ("INTERVAL_5_SEC", "INTERVAL_30_SEC")
    assert log["metadata"] == "EXCLUDE_ALL_METADATA"


def test_what_the_bucket_keeps_is_kept_out_of_default_except_what_an_alert_reads(inventory):
    def types(text):
        return set(re.findall(r'resource\.type="([a-z_]+)"', text))

    copied = types(inventory.only("gcp:logging/projectSink:ProjectSink").get("filter"))
    excluded = types(inventory.only("gcp:logging/projectExclusion:ProjectExclusion").get("filter"))
    assert excluded and excluded <= copied, "nothing is dropped from _Default unless the bucket keeps it"
    # The unhealthy-backends alert matches health check logs (resource gce_instance_group) where they land.
    alert = inventory.named("unhealthy-backends").get("conditions.0.conditionMatchedLog.filter")
    assert "healthchecks" in alert and "gce_instance_group" not in excluded
    assert copied - excluded == {"gce_instance_group"}


def test_the_agent_destinations_table_names_every_host_the_agents_call(inventory):
    from gcp_stack.fleet import AGENT_DESTINATIONS

    for host in sorted(_agent_hosts(inventory)):
        assert any(re.fullmatch(pattern, host) for pattern in AGENT_DESTINATIONS), host


def test_the_readme_says_what_offline_instances_and_the_preview_agent_install_cost():
    """No in-place security updates (no internet route), VM Extension Manager is Preview, and logs may lag
    boot by the guest agent's ~8-minute policy poll ("About VM Extension Manager")."""
    from refarch_pulumi.offline import project

    gcp = (project("gcp").directory / "README.md").read_text()
    assert "unattended-upgrades" in gcp and "rolling a new image" in gcp
    assert "VM Extension Manager is a **Preview** feature" in gcp
    assert "up to ~8 minutes after it boots" in gcp
