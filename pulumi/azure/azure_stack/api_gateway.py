"""API tier: API Management, the only public entry. Subscription-key authentication, the spec's rate
limits, request logging to Application Insights, and a backend that is the load balancer's private address.

Only tiers that can be injected into the VNet (Developer, Premium) are allowed (cloud_tables.APIM_SKUS):
they reach the private load balancer, so the load balancer needs no public listener and nothing bypasses the
gateway. Developer has no SLA and no zones (dev, staging); Premium spreads units over zones (prod).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.apimanagement as apimanagement
import pulumi_azure_native.network as network

from azure_stack import roles
from azure_stack.diagnostics import send_diagnostics
from azure_stack.load_balancer import BACKEND_TIMEOUT_SECONDS
from azure_stack.network import GATEWAY_LISTENER_PORT
from azure_stack.placement import Placement
from azure_stack.tier import Tier
from refarch.spec import Api

BACKEND_ID = "load-balancer"
API_ID = "service"
METHODS = ("GET", "PUT", "POST", "DELETE")
# Protocols and ciphers API Management would otherwise still accept from clients.
LEGACY_TLS_OFF = {
    f"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.{side}.{protocol}": "False"
    for side in ("Protocols", "Backend.Protocols")
    for protocol in ("Tls10", "Tls11", "Ssl30")
} | {"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Ciphers.TripleDes168": "False"}


def rate_limit_policy(api: Api) -> str:
    """The spec's throttling as API Management policy.

    `throttle_burst` calls per window of burst/rate seconds lets a burst through at once and holds the
    sustained rate to `throttle_rate_per_second`, across all clients (API Gateway's stage throttling). The
    per-IP limit is the WAF rate rule of the AWS stack, applied here at the public edge where the client's
    address is still known.
    """
    window = max(1, math.ceil(api.throttle_burst / api.throttle_rate_per_second))
    return f"""<policies>
  <inbound>
    <base />
    <rate-limit-by-key calls="{api.throttle_burst}" renewal-period="{window}" counter-key="all-clients" />
    <rate-limit-by-key calls="{api.waf_requests_per_ip_per_5_minutes}" renewal-period="300"
      counter-key="@(context.Request.IpAddress)" />
    <set-backend-service backend-id="{BACKEND_ID}" />
  </inbound>
  <backend>
    <forward-request timeout="{BACKEND_TIMEOUT_SECONDS}" />
  </backend>
  <outbound>
    <base />
  </outbound>
  <on-error>
    <base />
  </on-error>
</policies>"""


@dataclass(frozen=True, kw_only=True)
class PublicApiArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    load_balancer_ip: str
    insights_id: pulumi.Input[str]
    insights_instrumentation_key: pulumi.Input[str]
    vault_id: pulumi.Input[str]
    # The spec's throttling (`api`), rendered as the gateway's rate-limit policy.
    throttling: Api
    # `[<env>.azure]`'s API Management tier and units, and the share of requests Application Insights keeps.
    sku: str
    units: int
    sampling_percent: float
    # Who publishes the API (`refarch-azure:publisherName`, `publisherEmail`).
    publisher_name: str
    publisher_email: str


class PublicApi(Tier):
    def __init__(self, name: str, args: PublicApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("PublicApi", name, opts)
        placement = args.placement
        child = self.child()
        zones = placement.zones if args.sku == "Premium" and len(placement.zones) > 1 else None
        public_ip = network.PublicIPAddress(
            "api-ip",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            dns_settings={"domain_name_label": placement.name("api")},
            zones=zones,
            tags=placement.tags,
            opts=child,
        )
        self.service = apimanagement.ApiManagementService(
            "api",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": args.sku, "capacity": args.units},
            zones=zones,
            publisher_email=args.publisher_email,
            publisher_name=args.publisher_name,
            identity={"type": "SystemAssigned"},
            # External: the gateway is public, its backends are reached inside the VNet.
            virtual_network_type="External",
            virtual_network_configuration={"subnet_resource_id": args.subnet_id},
            public_ip_address_id=public_ip.id,
            custom_properties=LEGACY_TLS_OFF,
            # Nobody uses the portals: they would only be a public surface next to the gateway.
            developer_portal_status="Disabled",
            legacy_portal_status="Disabled",
            tags=placement.tags,
            opts=child,
        )
        common = {"resource_group_name": placement.resource_group_name, "service_name": self.service.name}
        # Named values and certificates in the Key Vault are read with the gateway's own identity.
        roles.grant(
            "api-reads-vault-secrets",
            role=roles.KEY_VAULT_SECRETS_USER,
            principal_id=self.service.identity.apply(lambda identity: identity.principal_id),
            scope=args.vault_id,
            subscription_id=placement.subscription_id,
            parent=self,
        )
        logger = apimanagement.Logger(
            "api-logger",
            **common,
            logger_id="insights",
            logger_type="applicationInsights",
            resource_id=args.insights_id,
            credentials={"instrumentationKey": pulumi.Output.secret(args.insights_instrumentation_key)},
            opts=child,
        )
        apimanagement.Diagnostic(
            "api-request-logs",
            **common,
            diagnostic_id="applicationinsights",
            logger_id=logger.id,
            always_log="allErrors",
            log_client_ip=True,
            http_correlation_protocol="W3C",
            verbosity="information",
            # Errors are always logged (always_log); other requests only at this rate. Every request is
            # also in ApiManagementGatewayLogs and AGWAccessLogs, which the alerts query.
            sampling={"sampling_type": "fixed", "percentage": args.sampling_percent},
            opts=child,
        )
        self.backend = apimanagement.Backend(
            "api-backend",
            **common,
            backend_id=BACKEND_ID,
            protocol="http",
            url=f"http://{args.load_balancer_ip}:{GATEWAY_LISTENER_PORT}",
            description="The load balancer's private frontend",
            opts=child,
        )
        self.api = apimanagement.Api(
            "api-definition",
            **common,
            api_id=API_ID,
            display_name="Stateless service",
            path="",
            protocols=["https"],
            # Every call needs a subscription key (header Ocp-Apim-Subscription-Key).
            subscription_required=True,
            opts=child,
        )
        for method in METHODS:
            apimanagement.ApiOperation(
                f"api-{method.lower()}",
                **common,
                api_id=self.api.name,
                operation_id=method.lower(),
                display_name=f"{method} any path",
                method=method,
                url_template="/*",
                opts=child,
            )
        apimanagement.ApiPolicy(
            "api-policy",
            **common,
            api_id=self.api.name,
            policy_id="policy",
            format="xml",
            value=rate_limit_policy(args.throttling),
            opts=self.child(depends_on=[self.backend]),
        )
        send_diagnostics("api", resource_id=self.service.id, workspace_id=args.workspace_id, parent=self)
        self.url = self.service.gateway_url
        self.register_outputs({"url": self.url})
