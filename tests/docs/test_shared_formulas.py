"""What is the same on every cloud is said once: why the drill cannot rehearse a scenario (one table,
tools/docs/model.REHEARSALS), and the detection, replacement, recovery and per-zone figures (properties of
the shared HealthCheck and StackFacts), which every cloud's documents quote."""

from __future__ import annotations

from dataclasses import replace

from tools.docs.azure import state as azure_state
from tools.docs.model import SCENARIOS


def test_every_cloud_gives_the_same_rehearsal_for_a_scenario(generated):
    clouds = {stack.facts.cloud for stack in generated}
    assert clouds == {"aws", "azure", "gcp"}
    for scenario in SCENARIOS:
        said = {
            runbook.drill for stack in generated for runbook in stack.runbooks if runbook.scenario == scenario
        }
        assert len(said) == 1, (scenario, said)


def _failure(facts, mode):
    return next(failure for failure in facts.failure_modes if failure.mode == mode)


def _lost_per_zone_sentence(cloud: str, lost: int, min_size: int) -> str:
    """The words in which each cloud's evacuate-zone runbook states how many instances one zone holds."""
    return {
        "aws": f"losing a zone suddenly takes up to {lost} of them away",
        "azure": f"a zone holds at most {lost} of the {min_size} minimum instances",
        "gcp": f"The instances in one zone: at most {lost} at the minimum.",
    }[cloud]


def _zone_text(stack) -> str:
    zone = next(runbook for runbook in stack.runbooks if runbook.scenario == "evacuate-zone")
    return " ".join((zone.blast_radius, *zone.capacity))


def test_the_zone_runbook_states_one_zones_share(generated):
    for stack in generated:
        facts, text = stack.facts, _zone_text(stack)
        sentence = _lost_per_zone_sentence(facts.cloud, facts.lost_per_zone, facts.min_size)
        assert sentence in text, (stack.directory, sentence)


def test_a_wrong_share_is_caught(generated):
    for stack in generated:
        facts, text = stack.facts, _zone_text(stack)
        for wrong in {facts.lost_per_zone - 1, facts.lost_per_zone + 1}:
            assert _lost_per_zone_sentence(facts.cloud, wrong, facts.min_size) not in text, stack.directory


def test_the_documents_quote_the_shared_figures(generated):
    for stack in generated:
        facts, where = stack.facts, stack.directory
        assert facts.lost_per_zone * len(facts.zones) >= facts.min_size > 0, where
        instance = _failure(facts, "instance").recovery_time
        if facts.cloud == "azure":  # Azure's repair replaces within its grace: the detection is the figure
            assert f"= {azure_state.detection_seconds(facts.health_check)} s" in instance, where
        else:
            assert f"{facts.recovery_seconds} s" in instance, where
        replacement = [
            d for r in stack.runbooks for d in r.durations if d.seconds == facts.replacement_seconds
        ]
        if facts.cloud != "azure":  # Azure's durations split boot and leaving
            assert replacement, where


def test_the_shared_figures_follow_the_stack():
    from tools.docs.model import HealthCheck, StackFacts

    check = HealthCheck(
        path="/", interval_seconds=10, timeout_seconds=5, healthy_threshold=2, unhealthy_threshold=3
    )
    assert (check.detection_seconds, check.healthy_seconds) == (30, 20)
    fields = {name: None for name in StackFacts.__dataclass_fields__}
    facts = StackFacts(
        **{
            **fields,
            "zones": ("a", "b", "c"),
            "min_size": 4,
            "health_check": check,
            "boot_budget_seconds": 300,
            "draining_seconds": 60,
            "details": {},
        }
    )
    assert facts.lost_per_zone == 2  # 4 instances over 3 zones: one zone holds 2
    assert replace(facts, zones=()).lost_per_zone == 4  # no zones: one placement holds every instance
    assert facts.replacement_seconds == 300 + 20 + 60
    assert facts.recovery_seconds == 30 + 300 + 20
