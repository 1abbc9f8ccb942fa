"""Items in DynamoDB: pk (S) = item id, data (S) = the item as compact JSON, expires_at (N) = TTL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sample_service.dynamodb_layout import DATA_ATTRIBUTE, PARTITION_KEY, TTL_ATTRIBUTE
from sample_service.stores.base import Item, ItemTooLarge, unavailable

T = TypeVar("T")

# DynamoDB's hard limit, counted over attribute names and values.
MAX_ITEM_BYTES = 400 * 1024
# A DynamoDB number never takes more than 21 bytes.
_NUMBER_BYTES = 21
# Never a valid item id (those start with a letter or digit), so the probe cannot collide with data.
READINESS_PROBE_KEY = "#readiness-probe"
_WORKERS = 16


def _item_size(item_id: str, data_json: str, expires_at: int | None) -> int:
    size = len(PARTITION_KEY) + len(item_id.encode()) + len(DATA_ATTRIBUTE) + len(data_json.encode())
    return size if expires_at is None else size + len(TTL_ATTRIBUTE) + _NUMBER_BYTES


class DynamoDBItemStore:
    def __init__(self, *, table: str, region: str, timeout: float) -> None:
        self._table = table
        self._timeout = timeout
        # The endpoint comes from boto3's standard AWS_ENDPOINT_URL_DYNAMODB when set (tests, local dev).
        self._client = boto3.client(
            "dynamodb",
            region_name=region,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                # One retry covers a pooled connection the far end dropped; the wait_for in _call
                # still caps the whole call, retries included, at STORE_TIMEOUT_MS.
                retries={"max_attempts": 2, "mode": "standard"},
                max_pool_connections=_WORKERS,
            ),
        )
        # boto3 blocks, so calls run in threads. A pool of its own, not asyncio's default executor:
        # during a store outage, calls stuck until botocore's timeouts must not starve the default
        # executor, which asyncio also uses for DNS lookups (e.g. when Redis reconnects).
        self._executor = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="dynamodb")

    async def _call(self, operation: str, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor, call), self._timeout)
        except (BotoCoreError, ClientError, TimeoutError) as exc:
            raise unavailable(operation, exc) from exc

    async def get(self, item_id: str) -> Item | None:
        response: dict[str, Any] = await self._call(
            "get",
            partial(
                self._client.get_item,
                TableName=self._table,
                Key={PARTITION_KEY: {"S": item_id}},
                # Read-after-write across instances: a client's next request may land anywhere.
                ConsistentRead=True,
            ),
        )
        attributes = response.get("Item")
        if attributes is None:
            return None
        expires_at = int(attributes[TTL_ATTRIBUTE]["N"]) if TTL_ATTRIBUTE in attributes else None
        # DynamoDB deletes expired items only eventually (typically within days), so filter here.
        if expires_at is not None and expires_at <= time.time():
            return None
        return Item(item_id=item_id, data=json.loads(attributes[DATA_ATTRIBUTE]["S"]), expires_at=expires_at)

    async def put(self, item: Item) -> None:
        data_json = json.dumps(item.data, separators=(",", ":"), ensure_ascii=False)
        if _item_size(item.item_id, data_json, item.expires_at) > MAX_ITEM_BYTES:
            raise ItemTooLarge(f"item exceeds the store's limit of {MAX_ITEM_BYTES} bytes")
        attributes: dict[str, Any] = {PARTITION_KEY: {"S": item.item_id}, DATA_ATTRIBUTE: {"S": data_json}}
        if item.expires_at is not None:
            attributes[TTL_ATTRIBUTE] = {"N": str(item.expires_at)}
        await self._call("put", partial(self._client.put_item, TableName=self._table, Item=attributes))

    async def ping(self) -> None:
        # A real data-plane read: proves reachability and the GetItem permission, costs 0.5 RCU.
        await self._call(
            "ping",
            partial(
                self._client.get_item,
                TableName=self._table,
                Key={PARTITION_KEY: {"S": READINESS_PROBE_KEY}},
                ProjectionExpression=PARTITION_KEY,
            ),
        )

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()
