"""A local stand-in for the Firestore endpoint: the two RPCs the item store uses, over real gRPC.

The service's Firestore client talks to it as it would to the emulator (FIRESTORE_EMULATOR_HOST), so the
library's own request building, serialization, retries and deadlines all run. It is not Firestore: it
enforces no size limit, IAM, TTL deletion or transactions, and answers only BatchGetDocuments and Commit.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from google.cloud.firestore_v1 import types
from google.protobuf import timestamp_pb2

SERVICE = "google.firestore.v1.Firestore"


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


@dataclass
class FakeFirestore:
    documents: dict[str, types.Document] = field(default_factory=dict)
    requests: list[tuple[str, object]] = field(default_factory=list)
    # Knobs a test turns: answer slowly, or fail the next N calls with a status code.
    delay_seconds: float = 0.0
    fail_with: grpc.StatusCode | None = None
    failures_left: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _hurdles(self, context: grpc.ServicerContext) -> None:
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        with self._lock:
            failing = self.fail_with is not None and self.failures_left > 0
            if failing:
                self.failures_left -= 1
        if failing:
            context.abort(self.fail_with, "injected failure")

    def batch_get(self, request: types.BatchGetDocumentsRequest, context: grpc.ServicerContext):
        self.requests.append(("BatchGetDocuments", request))
        self._hurdles(context)
        for name in request.documents:
            document = self.documents.get(name)
            if document is None:
                yield types.BatchGetDocumentsResponse(missing=name, read_time=_now())
            else:
                yield types.BatchGetDocumentsResponse(found=document, read_time=_now())

    def commit(self, request: types.CommitRequest, context: grpc.ServicerContext) -> types.CommitResponse:
        self.requests.append(("Commit", request))
        self._hurdles(context)
        results = []
        for write in request.writes:
            # A set() without merge replaces the whole document, as Firestore does.
            document = types.Document(name=write.update.name, fields=write.update.fields, update_time=_now())
            self.documents[write.update.name] = document
            results.append(types.WriteResult(update_time=_now()))
        return types.CommitResponse(write_results=results, commit_time=_now())

    def serve(self) -> tuple[grpc.Server, int]:
        handlers = {
            "BatchGetDocuments": grpc.unary_stream_rpc_method_handler(
                self.batch_get,
                request_deserializer=types.BatchGetDocumentsRequest.deserialize,
                response_serializer=types.BatchGetDocumentsResponse.serialize,
            ),
            "Commit": grpc.unary_unary_rpc_method_handler(
                self.commit,
                request_deserializer=types.CommitRequest.deserialize,
                response_serializer=types.CommitResponse.serialize,
            ),
        }
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        return server, port
