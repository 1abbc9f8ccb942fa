"""The README's table of rules is the catalogue's, and every rule is evaluated on every cloud."""

from refarch import ROOT
from refarch.rules import RULES
from refarch.rules.engine import EVALUATIONS
from refarch.rules.service_facts import MEMORY_SESSION_BACKEND
from refarch.rules.table import BEGIN, END, markdown
from sample_service.config import SESSION_BACKENDS


def test_readme_table_is_generated_from_the_catalogue():
    readme = (ROOT / "README.md").read_text()
    assert BEGIN in readme and END in readme
    table = readme[readme.index(BEGIN) : readme.index(END) + len(END)]
    assert table == markdown(), "README's rules table drifted: paste `python -m refarch.rules.table`"


def test_every_rule_has_one_evaluation_per_cloud_and_a_unique_id():
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for cloud, evaluations in EVALUATIONS.items():
        assert set(evaluations) == set(ids), cloud


def test_the_memory_backend_the_rules_refuse_is_one_the_service_knows():
    assert MEMORY_SESSION_BACKEND in SESSION_BACKENDS
