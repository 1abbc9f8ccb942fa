"""Each runbook quotes the last result of the drill scenario that rehearses it, from the file `make drill`
writes (runbooks/drill-result.json), with its date and machine; without the file it says none is recorded;
a runbook that cannot be rehearsed locally says why."""

from __future__ import annotations

from dataclasses import replace

from tools.docs.model import SCENARIOS, DrillReference
from tools.docs.render import drill_line
from tools.drill.result import CACHE_FAILURE, REPLACE
from tools.drill.result import SCENARIOS as DRILL_SCENARIOS

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


# Which drill scenario rehearses each runbook, read off what the drill does (tools/drill), kept here apart
# from tools/docs/model.REHEARSALS so that a wrong entry there is caught: the drill replaces every instance
# one at a time under load (both replacement runbooks) and fails a Redis primary over; it has no zone, no
# point-in-time store and one release.
REHEARSED_BY = {
    "replace-one-instance": REPLACE,
    "replace-every-instance": REPLACE,
    "evacuate-zone": None,
    "cache-primary-failure": CACHE_FAILURE,
    "restore-store": None,
    "roll-back-release": None,
}


def problems(runbooks) -> list[str]:
    """Every runbook of one stack whose drill reference differs from REHEARSED_BY (or, not rehearsed, says
    not why), every scenario REHEARSED_BY knows that the stack has no runbook for, and every drill scenario
    no runbook cites."""
    found = []
    for runbook in runbooks:
        expected = REHEARSED_BY.get(runbook.scenario, "(no entry in REHEARSED_BY)")
        if runbook.drill.scenario != expected:
            found.append(f"{runbook.scenario}: cites {runbook.drill.scenario}, expected {expected}")
        elif expected is None and not runbook.drill.note:
            found.append(f"{runbook.scenario}: not rehearsed, and does not say why")
    found += [f"no {name} runbook" for name in REHEARSED_BY if name not in {r.scenario for r in runbooks}]
    cited = {runbook.drill.scenario for runbook in runbooks}
    found += [f"no runbook cites the drill's {name}" for name in DRILL_SCENARIOS if name not in cited]
    return found


def test_the_table_names_only_scenarios_the_drill_runs():
    assert set(REHEARSED_BY) == set(SCENARIOS)
    assert {name for name in REHEARSED_BY.values() if name} == set(DRILL_SCENARIOS)


def test_every_runbook_names_its_drill_or_why_it_has_none(generated):
    found = {stack.directory: problems(stack.runbooks) for stack in generated}
    assert not any(found.values()), found


def _with(runbooks, scenario, drill):
    return [replace(r, drill=drill) if r.scenario == scenario else r for r in runbooks]


def test_a_wrong_rehearsal_is_caught(generated):
    for stack in generated:
        runbooks = stack.runbooks
        for scenario, name in REHEARSED_BY.items():
            if name is not None:
                assert problems(_with(runbooks, scenario, DrillReference(scenario=None, note="no drill"))), (
                    stack.directory,
                    scenario,
                )
            for other in DRILL_SCENARIOS:
                if other != name:
                    cited = DrillReference(scenario=other, note="rehearsed")
                    assert problems(_with(runbooks, scenario, cited)), (stack.directory, scenario, other)
            if name is None:
                assert problems(_with(runbooks, scenario, DrillReference(scenario=None))), scenario
        renamed = [replace(r, drill=DrillReference(scenario="replace-one")) for r in runbooks]
        assert problems(renamed)
