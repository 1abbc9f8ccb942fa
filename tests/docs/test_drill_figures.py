"""Each runbook quotes the last result of the drill scenario that rehearses it, from the file `make drill`
writes (runbooks/drill-result.json), with its date and machine; without the file it says none is recorded;
a runbook that cannot be rehearsed locally says why."""

from __future__ import annotations

from dataclasses import replace

from tools.docs.model import DrillReference
from tools.docs.render import drill_line
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


def problems(runbooks) -> list[str]:
    """Every runbook of one stack that cites no scenario the drill runs, or calls a scenario the drill runs
    (under the runbook's own name) not rehearsed; and every drill scenario no runbook cites."""
    found = []
    for runbook in runbooks:
        cited = runbook.drill.scenario
        if cited is None and (runbook.scenario in DRILL_SCENARIOS or not runbook.drill.note):
            found.append(f"{runbook.scenario}: not rehearsed ({runbook.drill.note!r}), but the drill runs it")
        elif cited is not None and cited not in DRILL_SCENARIOS:
            found.append(f"{runbook.scenario}: cites {cited}, which the drill does not run")
    cited = {runbook.drill.scenario for runbook in runbooks}
    found += [f"no runbook cites the drill's {name}" for name in DRILL_SCENARIOS if name not in cited]
    return found


def test_every_runbook_names_its_drill_or_why_it_has_none(generated):
    found = {stack.directory: problems(stack.runbooks) for stack in generated}
    assert not any(found.values()), found


def test_a_rehearsed_scenario_reported_as_not_rehearsed_is_caught(generated):
    runbooks = generated[0].runbooks
    for name in DRILL_SCENARIOS:
        dropped = [
            replace(r, drill=DrillReference(scenario=None, note="no drill")) if r.scenario == name else r
            for r in runbooks
        ]
        assert problems(dropped), name
    renamed = [replace(r, drill=DrillReference(scenario="replace-one")) for r in runbooks]
    assert problems(renamed)
