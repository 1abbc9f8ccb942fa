"""Microsoft Entra ID credentials of the instance's managed identity (Azure only).

The cache (Azure Managed Redis with access keys disabled) takes a token as the password and the
identity's object ID as the user; Cosmos DB takes the credential itself. The Azure SDK is imported only
when an Azure setting asks for it, so the service starts on other clouds without touching it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.credentials import CredentialProvider

# The audience Azure Managed Redis accepts tokens for.
REDIS_SCOPE = "https://redis.azure.com/.default"
# Fetch a new token this long before the current one expires.
REFRESH_MARGIN_SECONDS = 300


class SharedToken:
    """An async token credential that keeps each scope's token until shortly before it expires, and whose
    fetches outlive the caller: a request's short timeout may give up on a slow first fetch from the
    metadata service, but the fetch goes on and the next request reuses it instead of starting over."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential
        self._tokens: dict[tuple[str, ...], Any] = {}
        self._fetches: dict[tuple[str, ...], asyncio.Future] = {}

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        token = self._tokens.get(scopes)
        if token is None or token.expires_on - time.time() < REFRESH_MARGIN_SECONDS:
            fetch = self._fetches.get(scopes)
            if fetch is None or fetch.done():
                fetch = self._fetches[scopes] = asyncio.ensure_future(self._credential.get_token(*scopes))
            token = self._tokens[scopes] = await asyncio.shield(fetch)
        return token

    async def close(self) -> None:
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()


def managed_identity_credential(client_id: str) -> SharedToken:
    from azure.identity.aio import ManagedIdentityCredential

    return SharedToken(ManagedIdentityCredential(client_id=client_id))


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
