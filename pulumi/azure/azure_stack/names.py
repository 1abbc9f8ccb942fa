"""Names the stack gives what it makes for a Cosmos DB account other than its own, and what azure-native adds
to a name: pure functions, so the config's validation can bound an account name by them without importing
the resources."""

from __future__ import annotations

# azure-native auto-names a resource without an explicit name: its logical name plus this many random
# characters (pulumi-azure-native#3406), not shortened past the type's limit (#4294).
AUTONAME_SUFFIX_LENGTH = 8


def other_account_prefix(account: str) -> str:
    """The prefix of every resource the stack makes for another account (`items-<account>`): keyed by the
    account, never by its role, so the same account keeps its resources when it moves between `itemsAccount`
    and `itemsAccountDraining`; and never the stack's own `items-*` names (an account name has no empty
    part)."""
    return f"items-{account}"


def endpoint_name(name: str) -> str:
    """The logical name of the private endpoint the stack makes for `name` (private_endpoints.py)."""
    return f"{name}-endpoint"
