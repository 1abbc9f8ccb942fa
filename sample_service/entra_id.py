"""Microsoft Entra ID credentials of the instance's managed identity (Azure only).

The cache (Azure Managed Redis with access keys disabled) takes a token as the password and the
identity's object ID as the user; Cosmos DB takes the credential itself. The Azure SDK is imported only
when an Azure setting asks for it, so the service starts on other clouds without touching it.
"""

from __future__ import annotations

from typing import Any

from redis.credentials import CredentialProvider

# The audience Azure Managed Redis accepts tokens for.
REDIS_SCOPE = "https://redis.azure.com/.default"


def managed_identity_credential(client_id: str) -> Any:
    from azure.identity.aio import ManagedIdentityCredential

    # Tokens are cached and refreshed before expiry by the credential itself.
    return ManagedIdentityCredential(client_id=client_id)


class EntraIdCacheLogin(CredentialProvider):
    """Called for every new cache connection: a connection the server closes when its token expires is
    re-established by the client's one immediate retry, with a fresh token."""

    def __init__(self, username: str, credential: Any) -> None:
        self._username = username
        self._credential = credential

    def get_credentials(self) -> tuple[str, str]:
        raise NotImplementedError("the asyncio client asks for get_credentials_async")

    async def get_credentials_async(self) -> tuple[str, str]:
        token = await self._credential.get_token(REDIS_SCOPE)
        return self._username, token.token
