"""The AWS region the CDK app deploys to: cdk.json's `region` context, the one documented default, which
`make synth` and a plain `cdk synth` read the same way; `-c region=<name>` overrides it.

The CLI's CDK_DEFAULT_REGION is not read: when no profile names a region the CLI sets it to us-east-1, so
two ways of running the same synth would silently differ. A name must be one of the regions in botocore's
endpoint data (read as a file: the synth does not load botocore)."""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import json
from functools import cache
from pathlib import Path

REGION_CONTEXT_KEY = "region"


class RegionError(ValueError):
    """No region, or a name AWS does not have: named with what to do, before any stack is built."""


@cache
def known_regions() -> dict[str, str]:
    """Every region name in botocore's endpoint data, with the partition it belongs to."""
    botocore = importlib.util.find_spec("botocore")
    if botocore is None or botocore.origin is None:
        raise RegionError("botocore is not installed: its endpoint data names the AWS regions")
    data = json.loads((Path(botocore.origin).parent / "data" / "endpoints.json").read_text())
    return {
        region: partition["partition"] for partition in data["partitions"] for region in partition["regions"]
    }


def checked_region(region: object) -> str:
    """`region` if AWS has it; otherwise a RegionError naming the value and what is allowed."""
    if not region:
        raise RegionError(
            f"no AWS region: set the `{REGION_CONTEXT_KEY}` context in cdk.json or pass "
            f"`-c {REGION_CONTEXT_KEY}=<region>` (e.g. eu-west-1)"
        )
    if region not in known_regions():
        close = difflib.get_close_matches(str(region), known_regions(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise RegionError(
            f"context '{REGION_CONTEXT_KEY}' = {region!r}: must be an AWS region known to botocore "
            f"{importlib.metadata.version('botocore')}{hint}"
        )
    return str(region)


def default_region(cdk_json: Path) -> str | None:
    """The region cdk.json documents, which a plain `cdk synth` uses."""
    return json.loads(cdk_json.read_text()).get("context", {}).get(REGION_CONTEXT_KEY)
