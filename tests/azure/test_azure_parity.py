"""The Azure program reads every shared spec field the parity table says Azure uses, in the module it
names, and none it opts out of; and all of `[<env>.azure]` (refarch/parity.py). Fallbacks (the spec's
alarms.email when the stack sets no alertEmail) are checked on one more preview without that key."""

from __future__ import annotations

import pytest

from refarch import parity
from refarch.spec_reads import Reads
from tests.pulumi_previews import fallback_reads as preview_without_fallback_keys


@pytest.fixture(scope="module")
def fallback_reads(azure) -> Reads:
    return preview_without_fallback_keys(azure)


def test_the_previews_read_what_the_parity_table_says(spec_reads, fallback_reads):
    assert parity.readers(spec_reads, "capacity.max"), "nothing was recorded"
    assert parity.problems("azure", spec_reads, fallback_reads) == []
