"""runbooks/ is what `make docs` generates from the stacks as they are now: regenerate into a temporary
directory and compare, file by file."""

from __future__ import annotations

from refarch import ROOT
from tools.docs import render
from tools.docs.render import HEADER

RUNBOOKS = ROOT / "runbooks"


def _tree(directory) -> dict[str, str]:
    return {str(path.relative_to(directory)): path.read_text() for path in sorted(directory.rglob("*.md"))}


def test_committed_documents_match_the_stacks(documents, tmp_path):
    render.write(documents, tmp_path)
    generated, committed = _tree(tmp_path), _tree(RUNBOOKS)
    drifted = sorted(name for name in generated if committed.get(name) != generated[name])
    stale = sorted(set(committed) - set(generated))
    assert not drifted and not stale, (
        f"runbooks/ drifted from the stacks: changed or missing {drifted}, no longer generated {stale}; "
        "run `make docs` and commit the result"
    )


def test_every_document_says_it_is_generated_and_how(documents):
    assert "make docs" in HEADER
    for name, text in documents.items():
        assert text.startswith(HEADER), name
