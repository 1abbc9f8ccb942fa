"""Each runbook quotes the last result of the drill scenario that rehearses it, from the file `make drill`
writes (runbooks/drill-result.json), with its date and machine; without the file it says none is recorded;
a runbook that cannot be rehearsed locally says why."""

from __future__ import annotations

from tools.docs.model import DRILL_SCENARIOS
from tools.docs.render import drill_line

RESULT = {
    "date": "2026-11-30T19:00:00+00:00",
    "machine": {"cpus": 2, "python": "3.11.7", "platform": "Linux-x86_64"},
    "command": "make drill",
    "scenarios": {
        "replace-every-instance": {
            "passed": True,
            "figures": {"requests": 1200, "failed": 0, "sessions_lost": 0},
        },
        "cache-primary-failure": {"passed": False, "figures": {"requests": 900, "failed": 12}},
    },
}


def test_a_recorded_result_is_quoted_with_its_date_and_machine():
    line = drill_line(RESULT, "replace-every-instance", "")
    assert "passed on 2026-11-30T19:00:00+00:00" in line
    assert "cpus 2" in line and "platform Linux-x86_64" in line
    assert "failed 0" in line and "requests 1200" in line and "sessions_lost 0" in line


def test_a_failed_scenario_says_so():
    assert "FAILED on 2026-11-30" in drill_line(RESULT, "cache-primary-failure", "")


def test_without_a_result_file_the_runbook_says_none_is_recorded():
    assert "no drill result recorded yet" in drill_line(None, "replace-every-instance", "")


def test_a_scenario_the_last_drill_did_not_run_is_named():
    assert "did not run it" in drill_line({**RESULT, "scenarios": {}}, "replace-every-instance", "")


def test_every_runbook_names_its_drill_or_why_it_has_none(generated):
    for stack in generated:
        for runbook in stack.runbooks:
            if runbook.drill.scenario is None:
                assert runbook.drill.note, (stack.directory, runbook.scenario)
            else:
                assert runbook.drill.scenario == DRILL_SCENARIOS[runbook.scenario]
