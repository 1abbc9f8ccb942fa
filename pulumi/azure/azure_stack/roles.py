"""Built-in Azure roles the stack grants, each scoped to exactly one resource."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.authorization as authorization

# IDs of built-in roles (the same in every tenant).
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

ROLE_NAMES = {
    STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
    KEY_VAULT_SECRETS_USER: "Key Vault Secrets User",
}


def grant(
    name: str,
    *,
    role: str,
    principal_id: pulumi.Input[str],
    scope: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    parent: pulumi.Resource,
) -> authorization.RoleAssignment:
    return authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=pulumi.Output.concat(
            "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", role
        ),
        scope=scope,
        description=f"{ROLE_NAMES[role]} for {name}",
        opts=pulumi.ResourceOptions(parent=parent),
    )
