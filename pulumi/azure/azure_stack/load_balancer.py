"""Load balancer tier: Application Gateway v2 with WAF, listening only on a private address.

No cookie affinity (any instance serves any request), a shallow health probe on the service's
/health, and connection draining as long as the service's own shutdown grace. The public IP that
v2 gateways require carries no listener, and the subnet's NSG admits clients only from API Management.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.network as network

from azure_stack.diagnostics import send_diagnostics
from azure_stack.network import GATEWAY_LISTENER_PORT, gateway_private_ip
from azure_stack.placement import Placement
from azure_stack.tier import Tier
from refarch.health_check import HEALTH_CHECK
from sample_service.paths import HEALTH_PATH

BACKEND_POOL = "fleet"
PRIVATE_FRONTEND = "private"
# Microsoft's Default Rule Set (OWASP core rules plus Microsoft threat intelligence).
MANAGED_RULE_SET = ("Microsoft_DefaultRuleSet", "2.1")

# How long a request may take end to end behind the gateway; API Management waits as long.
BACKEND_TIMEOUT_SECONDS = 30


def detection_seconds() -> int:
    """How long the gateway may keep sending new requests to an instance whose health path has started
    failing: unhealthy_threshold failed probes, an interval apart, the last waiting out its timeout
    ("Application Gateway health probes overview")."""
    return HEALTH_CHECK.interval_seconds * HEALTH_CHECK.unhealthy_threshold + HEALTH_CHECK.timeout_seconds


@dataclass(frozen=True, kw_only=True)
class ServiceLoadBalancerArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    # The spec's VNet range: the private frontend has a fixed address in the gateway's subnet.
    vnet_cidr: str
    # The service behind the gateway: its port, and its shutdown grace, which the gateway drains for.
    service_port: int
    shutdown_grace_seconds: int
    # `[<env>.azure]`'s gateway autoscale bounds (instances) and WAF mode.
    min_capacity: int
    max_capacity: int
    waf_mode: str


class ServiceLoadBalancer(Tier):
    def __init__(
        self, name: str, args: ServiceLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ServiceLoadBalancer", name, opts)
        placement = args.placement
        child = self.child()
        common = {"resource_group_name": placement.resource_group_name, "location": placement.location}
        gateway_name = placement.name("agw")
        gateway_path = f"Microsoft.Network/applicationGateways/{gateway_name}"

        def part(kind: str, part_name: str) -> dict:
            return {"id": placement.child_id(f"{gateway_path}/{kind}/{part_name}")}

        self.waf_policy = network.WebApplicationFirewallPolicy(
            "waf",
            **common,
            policy_settings={
                "state": "Enabled",
                "mode": args.waf_mode,
                "request_body_check": True,
                "max_request_body_size_in_kb": 128,
                "file_upload_limit_in_mb": 1,
            },
            managed_rules={
                "managed_rule_sets": [
                    {"rule_set_type": MANAGED_RULE_SET[0], "rule_set_version": MANAGED_RULE_SET[1]}
                ]
            },
            tags=placement.tags,
            opts=child,
        )
        public_ip = network.PublicIPAddress(
            "agw-ip",
            **common,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            zones=placement.zones,
            tags=placement.tags,
            opts=child,
        )
        self.private_ip = gateway_private_ip(args.vnet_cidr)
        self.gateway = network.ApplicationGateway(
            "agw",
            **common,
            application_gateway_name=gateway_name,
            sku={"name": "WAF_v2", "tier": "WAF_v2"},
            autoscale_configuration={
                "min_capacity": args.min_capacity,
                "max_capacity": args.max_capacity,
            },
            zones=placement.zones,
            firewall_policy={"id": self.waf_policy.id},
            force_firewall_policy_association=True,
            enable_http2=True,
            ssl_policy={"policy_type": "Predefined", "policy_name": "AppGwSslPolicy20220101S"},
            gateway_ip_configurations=[{"name": "gateway", "subnet": {"id": args.subnet_id}}],
            frontend_ip_configurations=[
                {"name": "public", "public_ip_address": {"id": public_ip.id}},
                {
                    "name": PRIVATE_FRONTEND,
                    "private_ip_allocation_method": "Static",
                    "private_ip_address": self.private_ip,
                    "subnet": {"id": args.subnet_id},
                },
            ],
            frontend_ports=[{"name": "http", "port": GATEWAY_LISTENER_PORT}],
            # Only the private frontend listens: nothing on the internet can reach a listener.
            http_listeners=[
                {
                    "name": "private-http",
                    "protocol": "Http",
                    "frontend_ip_configuration": part("frontendIPConfigurations", PRIVATE_FRONTEND),
                    "frontend_port": part("frontendPorts", "http"),
                }
            ],
            backend_address_pools=[{"name": BACKEND_POOL}],
            probes=[
                {
                    "name": "health",
                    "protocol": "Http",
                    "host": "127.0.0.1",
                    "path": HEALTH_PATH,
                    "interval": HEALTH_CHECK.interval_seconds,
                    "timeout": HEALTH_CHECK.timeout_seconds,
                    "unhealthy_threshold": HEALTH_CHECK.unhealthy_threshold,
                    # No healthy threshold on this probe: see refarch.health_check.NOT_HONOURED.
                    "pick_host_name_from_backend_http_settings": False,
                    "match": {"status_codes": [str(HEALTH_CHECK.healthy_status)]},
                }
            ],
            backend_http_settings_collection=[
                {
                    "name": "service",
                    "protocol": "Http",
                    "port": args.service_port,
                    "cookie_based_affinity": "Disabled",
                    # In-flight requests get the service's whole shutdown grace when an instance leaves.
                    "connection_draining": {
                        "enabled": True,
                        "drain_timeout_in_sec": args.shutdown_grace_seconds,
                    },
                    "request_timeout": BACKEND_TIMEOUT_SECONDS,
                    "probe": part("probes", "health"),
                }
            ],
            request_routing_rules=[
                {
                    "name": "to-fleet",
                    "rule_type": "Basic",
                    "priority": 100,
                    "http_listener": part("httpListeners", "private-http"),
                    "backend_address_pool": part("backendAddressPools", BACKEND_POOL),
                    "backend_http_settings": part("backendHttpSettingsCollection", "service"),
                }
            ],
            tags=placement.tags,
            opts=child,
        )
        self.backend_pool_id = placement.child_id(f"{gateway_path}/backendAddressPools/{BACKEND_POOL}")
        send_diagnostics("agw", resource_id=self.gateway.id, workspace_id=args.workspace_id, parent=self)
        send_diagnostics("agw-ip", resource_id=public_ip.id, workspace_id=args.workspace_id, parent=self)
        self.register_outputs({"gatewayId": self.gateway.id, "privateIp": self.private_ip})
