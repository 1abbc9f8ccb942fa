"""Gateway-only access: the service serves a request only with the gateway's ID token, verified against a
local key set (an RSA key made here, served on 127.0.0.1) exactly as it would be against Google's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from test_service_app import MemoryItems, NoSessions

from sample_service.app import HEALTH_PATH, create_app
from sample_service.config import ServiceConfig

AUDIENCE = "https://backend.example.com"
SUBJECT = "104650265468239385642"  # the gateway service account's unique ID
ISSUER = "https://accounts.google.com"
KID = "key-1"

SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks() -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    return {"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}


def token(key=SIGNING_KEY, kid: str = KID, **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": SUBJECT, "iat": now, "exp": now + 3600, **claims}
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


class KeyServer:
    """Google's certificate endpoint, locally: counts fetches and can be switched off."""

    def __init__(self) -> None:
        self.fetches = 0
        self.up = True

    async def certs(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if not self.up:
            return web.Response(status=503)
        return web.json_response(_jwks(), headers={"Cache-Control": "public, max-age=3600"})


Scenario = Callable[[TestClient, KeyServer], Awaitable[None]]


def run(scenario: Scenario, *, keys_up: bool = True) -> None:
    async def main() -> None:
        keys = KeyServer()
        keys.up = keys_up
        key_app = web.Application()
        key_app.router.add_get("/oauth2/v3/certs", keys.certs)
        async with TestServer(key_app, host="127.0.0.1") as key_server:
            config = ServiceConfig.from_env(
                {
                    "CACHE_HOST": "127.0.0.1",
                    "STORE_BACKEND": "dynamodb",
                    "ITEMS_TABLE": "items",
                    "AWS_REGION": "us-east-1",
                    "GATEWAY_JWT_AUDIENCE": AUDIENCE,
                    "GATEWAY_JWT_SUBJECT": SUBJECT,
                    "GATEWAY_JWKS_URL": str(key_server.make_url("/oauth2/v3/certs")),
                }
            )
            app = create_app(config, sessions=NoSessions(), items=MemoryItems())  # type: ignore[arg-type]
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                await scenario(client, keys)

    asyncio.run(main())


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_a_valid_gateway_token_is_served() -> None:
    async def scenario(client: TestClient, keys: KeyServer) -> None:
        response = await client.get("/ready", headers=_bearer(token()))
        assert response.status == 200
        # Google writes its issuer without the scheme too.
        alias = await client.get("/ready", headers=_bearer(token(iss="accounts.google.com")))
        assert alias.status == 200
        assert keys.fetches == 1, "keys are cached, not fetched per request"

    run(scenario)


def test_the_health_check_stays_open_without_a_token() -> None:
    async def scenario(client: TestClient, keys: KeyServer) -> None:
        assert (await client.get(HEALTH_PATH)).status == 200
        assert (await client.get("/ready")).status == 401

    run(scenario)


EXPIRED = {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("missing", {}),
        ("not bearer", {"Authorization": "Basic dXNlcjpwYXNz"}),
        ("empty bearer", {"Authorization": "Bearer "}),
        ("garbage", _bearer("not.a.jwt")),
        ("expired", _bearer(token(**EXPIRED))),
        ("wrong audience", _bearer(token(aud="https://elsewhere.example.com"))),
        ("wrong issuer", _bearer(token(iss="https://evil.example.com"))),
        ("bad signature", _bearer(token(key=OTHER_KEY))),
        ("someone else's token", _bearer(token(sub="999999999999999999999"))),
        ("no expiry", _bearer(token(exp=None))),
        ("unknown key", _bearer(token(kid="key-2"))),
        ("unsigned", _bearer(jwt.encode({"aud": AUDIENCE, "sub": SUBJECT}, None, algorithm="none"))),
    ],
)
def test_anything_but_the_gateways_valid_token_is_401_never_500(case: str, headers: dict[str, str]) -> None:
    async def scenario(client: TestClient, keys: KeyServer) -> None:
        for path in ("/ready", "/items/a1", "/sessions"):
            response = await client.get(path, headers=headers)
            assert response.status == 401, f"{case}: {path} answered {response.status}"
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "error" in await response.json()

    run(scenario)


def test_unknown_key_ids_cannot_make_the_service_hammer_the_key_endpoint() -> None:
    async def scenario(client: TestClient, keys: KeyServer) -> None:
        for index in range(20):
            response = await client.get("/ready", headers=_bearer(token(kid=f"forged-{index}")))
            assert response.status == 401
        assert keys.fetches == 1

    run(scenario)


def test_unreachable_keys_are_503_not_500() -> None:
    async def scenario(client: TestClient, keys: KeyServer) -> None:
        response = await client.get("/ready", headers=_bearer(token()))
        assert response.status == 503
        assert await response.json() == {"error": "cannot verify gateway tokens right now"}

    run(scenario, keys_up=False)


def test_gateway_auth_is_all_or_nothing_in_the_environment() -> None:
    base = {"CACHE_HOST": "h", "STORE_BACKEND": "dynamodb", "ITEMS_TABLE": "items", "AWS_REGION": "us-east-1"}
    assert ServiceConfig.from_env(base).gateway_auth is None
    with pytest.raises(ValueError, match="GATEWAY_JWT_AUDIENCE and GATEWAY_JWT_SUBJECT"):
        ServiceConfig.from_env({**base, "GATEWAY_JWT_AUDIENCE": AUDIENCE})
    with pytest.raises(ValueError, match=r"GATEWAY_JWKS_URL='http://keys\.example\.com/certs' is invalid"):
        ServiceConfig.from_env(
            {
                **base,
                "GATEWAY_JWT_AUDIENCE": AUDIENCE,
                "GATEWAY_JWT_SUBJECT": SUBJECT,
                "GATEWAY_JWKS_URL": "http://keys.example.com/certs",
            }
        )
