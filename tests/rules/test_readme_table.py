"""The rule pack README's table of rules is the catalogue's, and every rule is evaluated on every cloud."""

from refarch.rules import RULES
from refarch.rules.engine import EVALUATIONS
from refarch.rules.service_facts import MEMORY_SESSION_BACKEND
from refarch.rules.table import (
    ACCEPTED_BEGIN,
    ACCEPTED_END,
    BEGIN,
    END,
    README,
    accepted_markdown,
    markdown,
)
from sample_service.config import SESSION_BACKENDS


def _section(readme: str, begin: str, end: str) -> str:
    assert begin in readme and end in readme
    return readme[readme.index(begin) : readme.index(end) + len(end)]


def test_readme_table_is_generated_from_the_catalogue():
    readme = README.read_text()
    table = _section(readme, BEGIN, END)
    assert table == markdown(), "the rules table drifted: paste `python -m refarch.rules.table`"


def test_readme_lists_every_accepted_finding_from_its_catalogue():
    readme = README.read_text()
    table = _section(readme, ACCEPTED_BEGIN, ACCEPTED_END)
    assert table == accepted_markdown(), "accepted findings drifted: paste `python -m refarch.rules.table`"


def test_every_rule_has_one_evaluation_per_cloud_and_a_unique_id():
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for cloud, evaluations in EVALUATIONS.items():
        assert set(evaluations) == set(ids), cloud


def test_the_memory_backend_the_rules_refuse_is_one_the_service_knows():
    assert MEMORY_SESSION_BACKEND in SESSION_BACKENDS
