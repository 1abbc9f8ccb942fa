"""API tier: API Gateway in front of the load balancer, with an API key (for quotas) and a signed JWT of
the API client account on every call, a per-consumer quota from the spec, and backend ID tokens minted by
the gateway's own account, which the service verifies."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_gcp.apigateway as apigateway
import pulumi_gcp.projects as projects

from gcp_stack.openapi import openapi_document
from gcp_stack.tier import Tier, environment_labels


def backend_audience(backend_domain: str) -> str:
    """The audience of the gateway's ID tokens: the backend's own URL, as Google's convention has it."""
    return f"https://{backend_domain}"


@dataclass(frozen=True, kw_only=True)
class ApiArgs:
    environment: str
    region: str
    # The per-consumer quota (openapi.requests_per_minute).
    requests_per_minute: int
    backend_address: str
    # The audience of the gateway's ID tokens for the backend (backend_audience).
    backend_audience: str
    gateway_account: pulumi.Input[str]
    client_account: pulumi.Input[str]


class PublicApi(Tier):
    def __init__(self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("PublicApi", name, opts)
        environment = args.environment
        labels = environment_labels(environment)
        self.api = apigateway.Api(
            "definition",
            api_id=f"{environment}-service",
            display_name=f"Stateless service ({environment})",
            labels=labels,
            opts=self.child(),
        )
        # Clients sign their JWTs for the API's managed service name: unique to this API.
        self.client_audience = self.api.managed_service
        document = pulumi.Output.all(args.client_account, self.client_audience).apply(
            lambda values: json.dumps(
                openapi_document(
                    environment,
                    requests_per_minute=args.requests_per_minute,
                    backend_address=args.backend_address,
                    backend_audience=args.backend_audience,
                    client_email=values[0],
                    client_audience=values[1],
                ),
                indent=2,
                sort_keys=True,
            )
        )
        self.config = apigateway.ApiConfig(
            "config",
            api=self.api.api_id,
            # Configs are immutable: each change creates a new one before the gateway moves to it.
            api_config_id_prefix=f"{environment}-",
            openapi_documents=[
                apigateway.ApiConfigOpenapiDocumentArgs(
                    document=apigateway.ApiConfigOpenapiDocumentDocumentArgs(
                        path="openapi.json",
                        contents=document.apply(lambda text: base64.b64encode(text.encode()).decode()),
                    )
                )
            ],
            gateway_config=apigateway.ApiConfigGatewayConfigArgs(
                backend_config=apigateway.ApiConfigGatewayConfigBackendConfigArgs(
                    google_service_account=args.gateway_account
                )
            ),
            labels=labels,
            opts=self.child(),
        )
        self.gateway = apigateway.Gateway(
            "gateway",
            gateway_id=f"{environment}-service",
            api_config=self.config.id,
            region=args.region,
            labels=labels,
            opts=self.child(),
        )
        # API keys only work for a managed service enabled in the key's project. Google enables it once a
        # config exists (cloud.google.com/api-gateway/docs/secure-traffic-gcloud: create the config, then
        # `gcloud services enable MANAGED_SERVICE`): before that the service has no configuration to enable.
        enabled = projects.Service(
            "service-api",
            service=self.api.managed_service,
            disable_on_destroy=False,
            opts=self.child(depends_on=[self.config]),
        )
        self.api_key = projects.ApiKey(
            "first-consumer",
            display_name=f"Stateless service API ({environment})",
            restrictions=projects.ApiKeyRestrictionsArgs(
                api_targets=[projects.ApiKeyRestrictionsApiTargetArgs(service=self.api.managed_service)]
            ),
            opts=self.child(depends_on=[enabled]),
        )
        self.url = self.gateway.default_hostname.apply(lambda host: f"https://{host}")
        self.host = self.gateway.default_hostname
        self.register_outputs({"url": self.url, "apiKey": self.api_key.name})
