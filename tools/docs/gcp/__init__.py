"""GCP documents: StackFacts from the offline preview inventory and six runbooks with `gcloud` commands
(tools/docs/registry.py says what a cloud module exposes)."""

from tools.docs.gcp.facts import facts
from tools.docs.gcp.runbooks import runbooks

__all__ = ["facts", "runbooks"]
