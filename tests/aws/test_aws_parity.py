"""The CDK app reads every shared spec field the parity table says AWS uses, in the module it names, and
none it opts out of; and all of `[<env>.aws]` (refarch/parity.py)."""

from __future__ import annotations

from refarch import parity


def test_the_synthesis_reads_what_the_parity_table_says(synthesized):
    assert parity.readers(synthesized.spec_reads, "capacity.max"), "nothing was recorded"
    assert parity.problems("aws", synthesized.spec_reads) == []
