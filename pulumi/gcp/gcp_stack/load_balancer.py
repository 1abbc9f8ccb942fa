"""Load balancer tier: a global external Application Load Balancer (HTTPS only, TLS 1.2+, a Google-managed
certificate), no session affinity, connection draining and request logs, behind a Cloud Armor policy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp.compute as compute

from gcp_stack.api_gateway import backend_audience
from gcp_stack.cloud_armor import security_policy
from gcp_stack.edge_rate import EdgeRate
from gcp_stack.fleet import PORT_NAME
from gcp_stack.openapi import BACKEND_DEADLINE_SECONDS
from gcp_stack.tier import Tier
from refarch.spec import Service

SCHEME = "EXTERNAL_MANAGED"
# API Gateway never waits longer than its deadline; the backend gets one second more.
BACKEND_TIMEOUT_SECONDS = int(BACKEND_DEADLINE_SECONDS) + 1
# Production logs one request in ten: enough to investigate, a tenth of the cost. Alerts read the load
# balancer's metrics, which count every request; smaller environments log them all.
PRODUCTION_REQUEST_LOG_SAMPLE_RATE = 0.1


def draining_seconds(service: Service) -> int:
    """In-flight requests get the service's whole shutdown grace before an instance is gone."""
    return service.shutdown_grace_seconds


@dataclass(frozen=True, kw_only=True)
class LoadBalancerArgs:
    environment: str
    # Production samples its request logs and turns on Cloud Armor's layer-7 DDoS defense.
    production: bool
    # Cloud Armor's per-address throttle (edge_rate).
    edge_rate: EdgeRate
    # How long an instance leaving the backend keeps its in-flight requests (draining_seconds).
    draining_seconds: int
    # The name the Google-managed certificate is issued for.
    backend_domain: str
    instance_group: pulumi.Input[str]
    health_check: pulumi.Input[str]


class ServiceLoadBalancer(Tier):
    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ServiceLoadBalancer", name, opts)
        self.armor = security_policy(
            args.environment, production=args.production, rate=args.edge_rate, opts=self.child()
        )
        self.backend = compute.BackendService(
            "backend",
            description="The fleet: any instance serves any request",
            load_balancing_scheme=SCHEME,
            protocol="HTTP",
            port_name=PORT_NAME,
            session_affinity="NONE",
            locality_lb_policy="ROUND_ROBIN",
            connection_draining_timeout_sec=args.draining_seconds,
            timeout_sec=BACKEND_TIMEOUT_SECONDS,
            health_checks=args.health_check,
            backends=[
                compute.BackendServiceBackendArgs(
                    group=args.instance_group,
                    balancing_mode="UTILIZATION",
                    max_utilization=0.8,
                    capacity_scaler=1.0,
                )
            ],
            log_config=compute.BackendServiceLogConfigArgs(
                enable=True, sample_rate=PRODUCTION_REQUEST_LOG_SAMPLE_RATE if args.production else 1.0
            ),
            security_policy=self.armor.self_link,
            opts=self.child(),
        )
        url_map = compute.URLMap("routes", default_service=self.backend.id, opts=self.child())
        certificate = compute.ManagedSslCertificate(
            "certificate",
            managed=compute.ManagedSslCertificateManagedArgs(domains=[args.backend_domain]),
            opts=self.child(),
        )
        tls = compute.SSLPolicy("tls", profile="RESTRICTED", min_tls_version="TLS_1_2", opts=self.child())
        proxy = compute.TargetHttpsProxy(
            "https-proxy",
            url_map=url_map.id,
            ssl_certificates=[certificate.id],
            ssl_policy=tls.id,
            opts=self.child(),
        )
        self.address = compute.GlobalAddress("address", address_type="EXTERNAL", opts=self.child())
        # HTTPS only: there is no port-80 rule to fall back to.
        compute.GlobalForwardingRule(
            "https",
            target=proxy.id,
            ip_address=self.address.address,
            port_range="443",
            ip_protocol="TCP",
            load_balancing_scheme=SCHEME,
            opts=self.child(),
        )
        self.url = backend_audience(args.backend_domain)
        self.register_outputs({"address": self.address.address, "url": self.url})
