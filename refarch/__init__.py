"""Cloud-neutral core: the environment spec and what every cloud's renderer shares."""

from pathlib import Path

# The repository root: where the spec, the Pulumi projects and the build outputs live.
ROOT = Path(__file__).resolve().parent.parent
