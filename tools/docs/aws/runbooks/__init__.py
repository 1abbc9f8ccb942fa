"""The six service-replacement runbooks of one AWS stack, every figure from its StackFacts."""

from __future__ import annotations

from tools.docs.aws.runbooks.cache import cache_failure
from tools.docs.aws.runbooks.release import roll_back_release
from tools.docs.aws.runbooks.replace import replace_every, replace_one
from tools.docs.aws.runbooks.store import restore_store
from tools.docs.aws.runbooks.zone import evacuate_zone
from tools.docs.model import Runbook, StackFacts


def runbooks(facts: StackFacts) -> list[Runbook]:
    return [
        replace_one(facts),
        replace_every(facts),
        evacuate_zone(facts),
        cache_failure(facts),
        restore_store(facts),
        roll_back_release(facts),
    ]
