"""The service's Azure settings: Cosmos DB and Entra ID variables, and the cache login with a managed
identity's token, proven against a real redis-server whose ACL user is the identity's object ID."""

from __future__ import annotations

import asyncio
import time

import pytest
from azure.core.credentials import AccessToken

from sample_service.cache_auth import cache_login
from sample_service.config import CosmosSettings, ServiceConfig
from sample_service.entra_id import REDIS_SCOPE, EntraIdCacheLogin, SharedToken, managed_identity_credential
from sample_service.sessions import SessionStore

CLIENT_ID = "8f2a1c3e-0b6d-4e7a-9c1f-2d3e4f5a6b7c"
OBJECT_ID = "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"
AZURE = {
    "CACHE_HOST": "sessions.westeurope.redis.azure.net",
    "CACHE_PORT": "10000",
    "CACHE_AUTH": "entra-id",
    "CACHE_USERNAME": OBJECT_ID,
    "AZURE_CLIENT_ID": CLIENT_ID,
    "STORE_BACKEND": "cosmos",
    "COSMOS_ENDPOINT": "https://items.documents.azure.com:443/",
    "COSMOS_DATABASE": "service",
    "COSMOS_CONTAINER": "items",
}


def config(**overrides: str | None) -> ServiceConfig:
    environ = {**AZURE, **overrides}
    return ServiceConfig.from_env({k: v for k, v in environ.items() if v is not None})


def test_azure_variables_are_read():
    parsed = config()
    assert parsed.cache_auth == "entra-id" and parsed.cache_username == OBJECT_ID
    assert parsed.azure_client_id == CLIENT_ID
    assert parsed.cosmos == CosmosSettings("https://items.documents.azure.com:443/", "service", "items")
    assert parsed.items_table is None and parsed.aws_region is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CACHE_AUTH": "token"}, "CACHE_AUTH='token' is invalid: expected 'password' or 'entra-id'"),
        ({"CACHE_USERNAME": None}, "CACHE_USERNAME is required when CACHE_AUTH is 'entra-id'"),
        ({"CACHE_USERNAME": "admin"}, "CACHE_USERNAME='admin' is invalid: expected the object ID"),
        ({"CACHE_PASSWORD": "hunter2"}, "expected neither CACHE_PASSWORD nor CACHE_AUTH_SECRET_ID"),
        (
            {"AZURE_CLIENT_ID": None},
            "AZURE_CLIENT_ID is required when CACHE_AUTH is 'entra-id' and STORE_BACKEND",
        ),
        ({"COSMOS_ENDPOINT": None}, "COSMOS_ENDPOINT is required when STORE_BACKEND is 'cosmos'"),
        ({"COSMOS_ENDPOINT": "http://items.documents.azure.com"}, "expected an https:// account endpoint"),
        ({"COSMOS_DATABASE": "a/b"}, "COSMOS_DATABASE='a/b' is invalid: expected a database name"),
        ({"COSMOS_CONTAINER": None}, "COSMOS_CONTAINER is required when STORE_BACKEND is 'cosmos'"),
    ],
)
def test_bad_azure_values_are_named(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        config(**overrides)


def test_the_managed_identity_credential_is_shared_and_cached():
    assert isinstance(managed_identity_credential(CLIENT_ID), SharedToken)


def test_password_login_is_unchanged_elsewhere():
    parsed = config(CACHE_AUTH=None, CACHE_USERNAME=None, CACHE_PASSWORD="secret")
    assert parsed.cache_auth == "password"
    assert cache_login(parsed) == {"password": "secret"}


class IdentityToken:
    def __init__(self, token: str) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.mark.servers
def test_entra_login_authenticates_as_the_identity_with_its_token(make_redis):
    # The cache's side of Entra ID auth, reduced to Redis ACLs: user = object ID, password = token.
    redis_server = make_redis(
        "--user", OBJECT_ID, "on", ">token-1", "~session:*", "+@all", "--user", "default", "off"
    )
    identity = IdentityToken("token-1")
    parsed = config(CACHE_HOST="127.0.0.1", CACHE_PORT=str(redis_server.port), CACHE_TLS="false")
    login = cache_login(parsed)
    assert set(login) == {"credential_provider"}
    login["credential_provider"] = EntraIdCacheLogin(OBJECT_ID, identity)

    async def scenario():
        from redis.asyncio import Redis

        sessions = SessionStore(
            Redis(host="127.0.0.1", port=redis_server.port, decode_responses=True, **login),
            ttl_seconds=60,
            timeout=1,
        )
        try:
            token = await sessions.create({"user": "ada"})
            return await sessions.get(token)
        finally:
            await sessions.close()

    assert asyncio.run(scenario()) == {"user": "ada"}
    assert identity.scopes and all(scopes == (REDIS_SCOPE,) for scopes in identity.scopes)


@pytest.mark.servers
def test_a_wrong_token_is_refused(make_redis):
    from sample_service.sessions import CacheUnavailable

    redis_server = make_redis(
        "--user", OBJECT_ID, "on", ">token-1", "~*", "+@all", "--user", "default", "off"
    )

    async def scenario():
        from redis.asyncio import Redis

        login = EntraIdCacheLogin(OBJECT_ID, IdentityToken("stolen"))
        sessions = SessionStore(
            Redis(host="127.0.0.1", port=redis_server.port, credential_provider=login),
            ttl_seconds=60,
            timeout=1,
        )
        try:
            with pytest.raises(CacheUnavailable):
                await sessions.ping()
        finally:
            await sessions.close()

    asyncio.run(scenario())


def test_a_slow_token_fetch_survives_the_timeout_of_the_request_that_started_it():
    class SlowToken(IdentityToken):
        async def get_token(self, *scopes: str, **kwargs) -> AccessToken:
            self.scopes.append(scopes)
            await asyncio.sleep(0.2)
            return AccessToken(self.token, int(time.time()) + 3600)

    identity = SlowToken("token-1")
    login = EntraIdCacheLogin(OBJECT_ID, SharedToken(identity))

    async def scenario():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await login.get_credentials_async()
        first = await login.get_credentials_async()
        second = await login.get_credentials_async()
        return first, second

    assert asyncio.run(scenario()) == ((OBJECT_ID, "token-1"), (OBJECT_ID, "token-1"))
    assert len(identity.scopes) == 1, "the interrupted fetch was started over or the token not reused"
