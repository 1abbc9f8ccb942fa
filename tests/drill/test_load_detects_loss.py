"""The load generator's clients notice every way a write can go missing: a session deleted or rolled
back behind their back, an item gone from the store. The control run proves one way; these prove each."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sample_service.dynamodb_layout import PARTITION_KEY
from sample_service.sessions import KEY_PREFIX
from tools.drill.load import Client, RequestLog, Tally
from tools.drill.servers import ITEMS_TABLE, aws_client

pytestmark = pytest.mark.servers


async def steps(client: Client, count: int) -> None:
    for _ in range(count):
        await client.drill_step(item_every=1)


def test_lost_and_stale_sessions_and_lost_items_are_counted(make_fleet: Any, cache: Any, store: Any) -> None:
    fleet = make_fleet(1)
    tally = Tally()
    client = Client(0, fleet.instances[0].process.port, "t", RequestLog(), tally)
    redis = cache.client()

    async def scenario() -> None:
        await steps(client, 3)
        assert (tally.sessions_created, tally.items_written) == (1, 3)  # the first step creates
        assert client.expected == {2}

        redis.set(KEY_PREFIX + client.token, json.dumps({"client": 0, "writes": 1}))  # a write rolled back
        await steps(client, 1)
        assert tally.sessions_stale == 1 and client.token is None

        await steps(client, 2)  # a new session, one write
        redis.delete(KEY_PREFIX + client.token)
        await steps(client, 1)
        assert tally.sessions_lost == 1 and client.token is None

        aws_client("dynamodb", store.endpoint).delete_item(
            TableName=ITEMS_TABLE, Key={PARTITION_KEY: {"S": client.item_id}}
        )
        await steps(client, 1)
        assert tally.items_lost == 1

        await steps(client, 2)
        await client.verify()
        assert tally.sessions_verified == 1
        client.conn.close()

    asyncio.run(scenario())
    assert (tally.sessions_lost, tally.sessions_stale, tally.items_lost, tally.items_stale) == (1, 1, 1, 0)
