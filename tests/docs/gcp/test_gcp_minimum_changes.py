"""The GCP runbooks that raise the autoscaler's minimum (replace-one-instance, evacuate-zone) are safe to run
as written: the raised minimum is computed from the group's target size read at run time (a hard-coded
"stack minimum + 1" adds nothing when the group is already larger), they wait for the target size before
`wait-until --stable` (the autoscaler applies a new minimum asynchronously, so "stable" can come back before
the group grows), and they put back the minimum they read, not the stack's. The lookups stop on an empty
name (`set -o pipefail`, `${VAR:?}`). A reader trial found each of these missing (briefs/s17/reader-gcp.md).

Sources: `gcloud compute instance-groups managed describe` prints the group with its autoscaler
(cloud.google.com/sdk/gcloud/reference/compute/instance-groups/managed/describe; targetSize and
autoscalingPolicy.minNumReplicas in the REST resources instanceGroupManagers and regionAutoscalers).
"""

from __future__ import annotations

import re

import pytest

from tests.docs.runbook_harness import SH_BLOCK, assert_each_mutant_caught
from tests.docs.runbook_harness import section as _section

RAISING = ("replace-one-instance", "evacuate-zone")
MIN_FLAG = re.compile(r"--min-num-replicas=([^\s;]+)")


def _lines(text: str) -> list[str]:
    return [line.strip() for block in SH_BLOCK.findall(text) for line in block.splitlines()]


def problems(text: str) -> list[str]:
    """Every unsafe minimum change in one generated runbook's markdown."""
    found = []
    lines = _lines(_section(text, "Steps"))
    raises = [i for i, line in enumerate(lines) if "update-autoscaling" in line]
    if not raises:
        return ["no step changes the minimum"]
    first, last = raises[0], raises[-1]
    for line in (lines[i] for i in raises):
        for value in MIN_FLAG.findall(line):
            if not value.startswith('"$'):
                found.append(f"a minimum written into the runbook: {value}")
    read = next(
        (i for i, line in enumerate(lines) if line.startswith("MIN=$(") and "minNumReplicas" in line), None
    )
    if read is None or read > first:
        found.append("the autoscaler's minimum is not read before it is raised")
    if MIN_FLAG.findall(lines[last]) != ['"$MIN"']:
        found.append("the last step does not put back the minimum it read")
    for line in _lines(_section(text, "Rollback")):
        if "update-autoscaling" in line and MIN_FLAG.findall(line) != ['"$MIN"']:
            found.append("the rollback does not put back the minimum it read")
    waits = [i for i, line in enumerate(lines) if "wait-until" in line and i > first]
    polls = [
        i for i, line in enumerate(lines) if "value(targetSize)" in line and "$RAISED" in line and i > first
    ]
    if not waits or not polls or polls[0] > waits[0]:
        found.append("no wait for the target size between raising the minimum and wait-until --stable")
    lookups = _lines(_section(text, "Names, looked up from the stack"))
    assigned = [line.split("=", 1)[0] for line in lookups if re.match(r"[A-Z_]+=\$\(", line)]
    if not lookups or lookups[0].split("#")[0].strip() != "set -o pipefail":
        found.append("the lookups do not start with set -o pipefail")
    guards = [line for line in lookups if line.startswith(": ")]
    for name in assigned:
        if not any(f'"${{{name}:?}}"' in line for line in guards):
            found.append(f"no ${{{name}:?}} guard after the lookups")
    return found


def _raising(documents: dict[str, str]) -> dict[str, str]:
    chosen = {
        path: text
        for path, text in documents.items()
        if path.startswith("gcp/") and path.rsplit("/", 1)[-1].removesuffix(".md") in RAISING
    }
    assert len(chosen) == len(RAISING) * len({path.split("/")[1] for path in chosen}) > 0
    return chosen


def test_minimum_changes_are_safe_as_written(documents):
    found = {path: problems(text) for path, text in _raising(documents).items()}
    assert not any(found.values()), found


# Each mutation puts back what the reader trial found in the old output.
MUTATIONS = {
    "hard-coded minimum": (r'--min-num-replicas="\$RAISED"', "--min-num-replicas=4"),
    "stack minimum restored": (r'--min-num-replicas="\$MIN"', "--min-num-replicas=3"),
    "no wait for the target size": (r"until test .*\n", ""),
    "no pipefail": (r"set -o pipefail[^\n]*\n", ""),
    "no guards": (r': "\$\{PROJECT:\?\}"[^\n]*\n', ""),
    "minimum not read": (r"MIN=\$\([^\n]*\n", ""),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_unsafe_form_is_caught(documents, mutation):
    assert_each_mutant_caught(
        _raising(documents), mutation, *MUTATIONS[mutation], lambda text, _: problems(text)
    )
