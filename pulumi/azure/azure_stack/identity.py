"""Identity tier: the fleet's managed identity (every data service admits it by role, none by key) and
the Key Vault for the secrets a deployment adds (certificates for a custom API domain, say).

The stack itself creates no secret: the cache, the item store and storage all authenticate the
identity with Entra ID, so there is no key to store, rotate or leak.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.managedidentity as managedidentity

from azure_stack.diagnostics import send_diagnostics
from azure_stack.placement import Placement
from azure_stack.private_endpoints import private_endpoint
from azure_stack.tier import Tier

# Key Vault keeps deleted secrets this long; 7 is Azure's minimum, 90 its maximum.
SOFT_DELETE_DAYS = {False: 7, True: 90}


@dataclass(frozen=True, kw_only=True)
class ServiceIdentityArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    data_subnet_id: pulumi.Input[str]
    vault_dns_zone_id: pulumi.Input[str]
    # The application security group the data NSG admits API Management to.
    vault_endpoints_id: pulumi.Input[str]
    # Production keeps deleted secrets longest and cannot purge them.
    production: bool


class ServiceIdentity(Tier):
    def __init__(
        self, name: str, args: ServiceIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ServiceIdentity", name, opts)
        placement = args.placement
        child = self.child()
        self.identity = managedidentity.UserAssignedIdentity(
            "fleet-identity",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            tags=placement.tags,
            opts=child,
        )
        properties = {
            "tenant_id": placement.tenant_id,
            "sku": {"family": "A", "name": "standard"},
            # Role assignments, not access policies: access is granted per secret, audited like any role.
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": SOFT_DELETE_DAYS[args.production],
            "public_network_access": "Disabled",
            "network_acls": {"default_action": "Deny", "bypass": "AzureServices"},
        }
        if args.production:
            # Purge protection cannot be switched off again, so only production turns it on.
            properties["enable_purge_protection"] = True
        self.vault = keyvault.Vault(
            "vault",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            properties=properties,
            tags=placement.tags,
            opts=child,
        )
        private_endpoint(
            "vault",
            placement=placement,
            resource_id=self.vault.id,
            group_id="vault",
            subnet_id=args.data_subnet_id,
            dns_zone_id=args.vault_dns_zone_id,
            parent=self,
            security_group_id=args.vault_endpoints_id,
        )
        send_diagnostics("vault", resource_id=self.vault.id, workspace_id=args.workspace_id, parent=self)
        self.register_outputs(
            {
                "identityId": self.identity.id,
                "clientId": self.identity.client_id,
                "principalId": self.identity.principal_id,
                "vaultUri": self.vault.properties.vault_uri,
            }
        )
