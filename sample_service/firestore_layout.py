"""The Firestore layout the GCP program creates and the Firestore store reads: one collection, the item as a
JSON string, and the timestamp field the database's TTL policy deletes by. Apart from the store, so the
program can import it without loading the client library."""

COLLECTION = "items"
DATA_FIELD = "data"
TTL_FIELD = "expires_at"
