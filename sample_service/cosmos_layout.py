"""The Cosmos DB container layout the Azure stack creates and the Cosmos DB store relies on.

Kept free of SDK imports, so the stack can read it without loading the Cosmos client.
"""

# Each item is its own logical partition: point reads and writes by id, nothing else.
PARTITION_KEY_PATH = "/id"
# Cosmos DB's own per-item TTL field (seconds after the last write). The container's default TTL of -1
# turns expiry on without expiring items that carry no ttl.
TTL_FIELD = "ttl"
CONTAINER_DEFAULT_TTL = -1
