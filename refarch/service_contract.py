"""What every cloud's stack owes the sample service: an environment it accepts and reads in full.

A variable the service never reads (renamed, misspelt, or left over) would silently fall back to a
default, so each cloud's tests parse the variables its stack writes through this and expect nothing unread.
"""

from __future__ import annotations

from collections.abc import Mapping

from sample_service.config import ServiceConfig


class _ReadRecorder(dict):
    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def parse_service_environment(variables: Mapping[str, str]) -> tuple[ServiceConfig, set[str]]:
    """The config the service builds from `variables` (ValueError if it rejects them), and the names it
    never read."""
    recorder = _ReadRecorder(variables)
    config = ServiceConfig.from_env(recorder)
    return config, set(variables) - recorder.read
