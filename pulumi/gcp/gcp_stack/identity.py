"""Identity tier: one service account per role, each holding only the project-wide roles it cannot do without.

Grants on a single resource (the secret, the database, a bucket) are made by the tier that owns the
resource, so each grant sits next to what it opens.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp.projects as projects
import pulumi_gcp.serviceaccount as serviceaccount

from gcp_stack.tier import Tier

# What an instance needs beyond its own resources: writing its logs and metrics.
FLEET_PROJECT_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")
# Lets a caller sign JWTs as the API client account (the gateway accepts those tokens).
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"


@dataclass(frozen=True, kw_only=True)
class IdentityArgs:
    environment: str
    project: str
    # IAM members that may call the API as its client account (stack config `apiCallers`).
    api_callers: tuple[str, ...]


class ServiceIdentities(Tier):
    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ServiceIdentities", name, opts)
        env = args.environment
        self.fleet = serviceaccount.Account(
            "fleet-account",
            account_id=f"{env}-fleet",
            display_name=f"Sample service instances ({env})",
            description="Runs the stateless service: its own cache secret, database and buckets only",
            opts=self.child(),
        )
        self.gateway = serviceaccount.Account(
            "gateway-account",
            account_id=f"{env}-gateway",
            display_name=f"API Gateway to backend ({env})",
            description="Signs the ID tokens the backend accepts; holds no roles",
            opts=self.child(),
        )
        self.api_client = serviceaccount.Account(
            "api-client-account",
            account_id=f"{env}-api-client",
            display_name=f"API client identity ({env})",
            description="Machine clients sign gateway tokens as this account; it holds no roles",
            opts=self.child(),
        )
        self.fleet_grants = [
            projects.IAMMember(
                f"fleet-{role.rsplit('/', 1)[-1]}",
                project=args.project,
                role=role,
                member=self.fleet.member,
                opts=self.child(),
            )
            for role in FLEET_PROJECT_ROLES
        ]
        for index, member in enumerate(args.api_callers):
            serviceaccount.IAMMember(
                f"api-caller-{index}",
                service_account_id=self.api_client.name,
                role=TOKEN_CREATOR,
                member=member,
                opts=self.child(),
            )
        self.register_outputs(
            {
                "fleet": self.fleet.email,
                "gateway": self.gateway.email,
                "apiClient": self.api_client.email,
            }
        )
