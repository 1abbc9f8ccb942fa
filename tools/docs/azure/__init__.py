"""The Azure document generator (tools/docs/registry.py): StackFacts from each stack's offline-preview
inventory, and its six runbooks."""

from tools.docs.azure.facts import facts
from tools.docs.azure.runbooks import runbooks

__all__ = ["facts", "runbooks"]
