"""The parity guard (refarch/parity.py) fails on a renderer that ignores a field silently, on an opt-out
of a field that is read, and on a named module that did not read it; the README carries its tables."""

from __future__ import annotations

import pytest

from refarch import ROOT, parity
from refarch.spec_reads import Reads

READMES = ("README.md", "stacks/README.md", "pulumi/azure/README.md", "pulumi/gcp/README.md")


def _complete(cloud: str) -> Reads:
    """The reads a renderer that honours the table exactly would make."""
    reads = Reads()
    for field, entries in parity.PARITY.items():
        if isinstance(entry := entries[cloud], parity.Uses):
            reads.readers[field].add(str(ROOT / entry.where))
    for field in parity.cloud_fields(cloud):
        reads.readers[field].add("somewhere.py")
    return reads


@pytest.mark.parametrize("cloud", parity.CLOUDS)
def test_the_table_covers_every_shared_field_for_every_cloud(cloud):
    assert set(parity.PARITY) == set(parity.shared_fields())
    assert all(cloud in entries for entries in parity.PARITY.values())
    assert parity.problems(cloud, _complete(cloud), _complete(cloud)) == []


def test_a_field_ignored_silently_fails():
    reads = _complete("aws")
    del reads.readers["capacity.max"]
    assert parity.problems("aws", reads) == [
        "capacity.max: aws names stacks/fleet.py, which did not read it (read by [])"
    ]
    own = _complete("gcp")
    del own.readers["gcp.redis_version"]
    assert any("gcp.redis_version" in problem for problem in parity.problems("gcp", own, own))


def test_an_opt_out_of_a_field_that_is_read_fails():
    reads = _complete("gcp")
    field = next(name for name, entries in parity.PARITY.items() if isinstance(entries["gcp"], parity.OptOut))
    reads.readers[field].add(str(ROOT / "pulumi/gcp/gcp_stack/fleet.py"))
    (problem,) = parity.problems("gcp", reads, reads)
    assert problem.startswith(f"{field}: gcp opts out, yet")


def test_a_fallback_use_needs_its_own_run():
    assert any("no such run recorded" in problem for problem in parity.problems("azure", _complete("azure")))


@pytest.mark.parametrize("cloud", parity.CLOUDS)
def test_a_readme_carries_the_generated_parity_table(cloud):
    begin, end = parity.BEGIN.format(cloud=cloud), parity.END.format(cloud=cloud)
    texts = [(ROOT / name).read_text() for name in READMES if (ROOT / name).is_file()]
    holding = [text for text in texts if begin in text]
    assert len(holding) == 1, f"one README must hold the {cloud} parity block: paste `{parity.COMMAND}`"
    (text,) = holding
    block = text[text.index(begin) : text.index(end) + len(end)]
    assert block == parity.markdown(cloud), f"the {cloud} parity block drifted: paste `{parity.COMMAND}`"
