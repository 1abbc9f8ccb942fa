"""Egress limited to what instances need, and logs kept where they are read, for as long as the spec says.

Sources: cloud.google.com/vpc-service-controls/docs/private-connectivity (restricted.googleapis.com is
199.36.153.4/30; *.googleapis.com CNAME restricted.googleapis.com in a private zone; a route to the range via
default-internet-gateway); cloud.google.com/logging/docs/reference/v2/rest/v2/projects.exclusions (an
exclusion applies to the _Default sink); the Subnetwork log_config enums in the installed pulumi_gcp SDK."""

from __future__ import annotations

import ipaddress
import re

from gcp_queries import ref

RESTRICTED_VIP = ipaddress.IPv4Network("199.36.153.4/30")
ANYWHERE = "0.0.0.0/0"


def _firewall(inventory) -> dict:
    return {rule.name: rule for rule in inventory.of_type("gcp:compute/firewall:Firewall")}


def test_google_apis_resolve_to_the_restricted_vip_inside_the_vpc(inventory):
    zone = inventory.only("gcp:dns/managedZone:ManagedZone")
    vpc = inventory.only("gcp:compute/network:Network")
    assert (zone.get("dnsName"), zone.get("visibility")) == ("googleapis.com.", "private")
    assert zone.get("privateVisibilityConfig.networks") == [{"networkUrl": ref(vpc)}]
    records = {r.get("name"): r for r in inventory.of_type("gcp:dns/recordSet:RecordSet")}
    assert records["*.googleapis.com."].get("rrdatas") == ["restricted.googleapis.com."]
    addresses = {ipaddress.IPv4Address(a) for a in records["restricted.googleapis.com."].get("rrdatas")}
    assert addresses == set(RESTRICTED_VIP)
    route = inventory.only("gcp:compute/route:Route")
    assert (route.get("destRange"), route.get("nextHopGateway"), route.get("network")) == (
        str(RESTRICTED_VIP),
        "default-internet-gateway",
        ref(vpc),
    )


def test_instances_reach_google_apis_only_on_the_restricted_vip(inventory):
    rules = _firewall(inventory)
    to_apis = [r for r in rules.values() if r.get("destinationRanges", None) == [str(RESTRICTED_VIP)]]
    assert [r.get("allows") for r in to_apis] == [[{"protocol": "tcp", "ports": ["443"]}]]
    script = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("metadata.startup-script")
    assert "https://storage.googleapis.com/" in script, "the release comes from a googleapis.com host"


def test_the_internet_is_open_to_instances_only_while_boot_installs_from_it(inventory):
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
    # What leaves for the internet, and what was refused; not every load-balanced request or cache call.
    assert logged == {"fleet-to-package-mirrors", "deny-egress"}


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
