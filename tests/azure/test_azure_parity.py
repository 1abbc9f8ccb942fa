"""The Azure program reads every shared spec field the parity table says Azure uses, in the module it
names, and none it opts out of; and all of `[<env>.azure]` (refarch/parity.py). Fallbacks (the spec's
alarms.email when the stack sets no alertEmail) are checked on one more preview without that key."""

from __future__ import annotations

import pytest

from refarch import parity
from refarch.spec import EnvironmentSpec
from refarch.spec_reads import Reads, recording


@pytest.fixture(scope="module")
def fallback_reads(azure) -> Reads:
    unset = {
        f"{azure.name}:{entry.when_unset}"
        for entries in parity.PARITY.values()
        if isinstance(entry := entries["azure"], parity.Uses) and entry.when_unset
    }
    config = {key: value for key, value in azure.config("dev").items() if key not in unset}
    with recording(EnvironmentSpec) as reads:
        azure.preview("dev", config)
    return reads


def test_the_previews_read_what_the_parity_table_says(spec_reads, fallback_reads):
    assert parity.readers(spec_reads, "capacity.max"), "nothing was recorded"
    assert parity.problems("azure", spec_reads, fallback_reads) == []
