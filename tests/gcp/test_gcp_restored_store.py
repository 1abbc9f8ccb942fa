"""Config `refarch-gcp:itemsDatabase` points the fleet at a cloned Firestore database (`gcloud firestore
databases clone`, a point-in-time restore into a new database of the project): the instances'
FIRESTORE_DATABASE, the fleet's database-conditioned grant, the store alert and the stack's output follow it;
the stack's own database stays. Without the key nothing changes (the snapshots hold that).

A clone is a new database and takes none of the source's IAM conditions (they name a database), so the grant
must name the clone ("Clone a database", cloud.google.com/firestore/docs/use-pitr#clone-database; IAM
conditions on Firestore databases, cloud.google.com/firestore/docs/security/iam#iam_conditions).
"""

from __future__ import annotations

from typing import Any

import pytest
from gcp_queries import service_environment

from refarch.inventory import Inventory
from refarch.spec import load_environment
from refarch_pulumi.offline import RecordingMonitor

NS = "refarch-gcp"
RESTORED = "prod-items-restored"
DATABASE = "gcp:firestore/database:Database"
GRANT = "fleet-uses-items"


def _preview(gcp, **config: str) -> tuple[Inventory, dict[str, Any]]:
    monitor = RecordingMonitor(gcp.module("offline").Mocks())
    inventory = gcp.preview("prod", {**gcp.config("prod"), **config}, monitor)
    (root,) = [r.name for r in inventory if r.parent is None and not r.custom]
    return inventory, monitor.outputs[root]


@pytest.fixture(scope="module")
def restored(gcp) -> tuple[Inventory, dict[str, Any]]:
    return _preview(gcp, **{f"{NS}:itemsDatabase": RESTORED})


def _project(gcp) -> str:
    return gcp.config("prod")["gcp:project"]


def test_the_instances_use_the_restored_database(restored):
    inventory, _ = restored
    assert service_environment(inventory)["FIRESTORE_DATABASE"] == RESTORED


def test_the_fleet_may_use_both_databases_during_a_switch(gcp, restored, inventories):
    # Instances not yet replaced keep using the stack's own database, and new ones are not refused while the
    # changed condition propagates through IAM.
    inventory, _ = restored
    grant, own = inventory.named(GRANT), inventories["prod"].named(GRANT)
    assert grant.get("role") == own.get("role") == gcp.module("item_store").DATASTORE_USER
    assert grant.get("member") == own.get("member")
    own_name = inventories["prod"].only(DATABASE).get("name")
    assert grant.get("condition.expression") == (
        f'resource.name == "projects/{_project(gcp)}/databases/{own_name}" || '
        f'resource.name == "projects/{_project(gcp)}/databases/{RESTORED}"'
    )
    assert grant.get("condition.title") == f"only-{own_name}-and-{RESTORED}"


class _ReadingMocks:
    """The offline mocks, recording the reads (`.get()`) and answering one with another name."""

    def __new__(cls, gcp, answer: str | None = None):
        base = gcp.module("offline").Mocks

        class Reading(base):
            reads: list[tuple[str, str]] = []

            def computed(self, args):
                if args.resource_id:
                    self.reads.append((args.typ, args.resource_id))
                outputs = super().computed(args)
                return {**outputs, "name": answer} if args.resource_id and answer else outputs

        return Reading()


def test_the_clone_is_read_so_a_misspelt_one_fails_the_preview(gcp):
    # `Database.get` reads the clone: a database that does not exist fails the read, and the preview with it.
    mocks = _ReadingMocks(gcp, answer="as-read")
    inventory = gcp.preview(
        "prod", {**gcp.config("prod"), f"{NS}:itemsDatabase": RESTORED}, RecordingMonitor(mocks)
    )
    assert (DATABASE, f"projects/{_project(gcp)}/databases/{RESTORED}") in mocks.reads
    # What the fleet serves is the name read back, not the config value.
    assert service_environment(inventory)["FIRESTORE_DATABASE"] == "as-read"


def test_the_fleet_waits_for_the_clones_backup_schedule(restored):
    inventory, _ = restored
    (group,) = inventory.of_type("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert {"weekly-restored", GRANT} <= set(group.depends_on)


def test_the_store_alert_watches_the_restored_database(restored):
    inventory, _ = restored
    policy = inventory.named("store-errors")
    text = policy.get("conditions.0.conditionThreshold.filter")
    assert f'resource.label.database_id = "{RESTORED}"' in text


def test_the_restored_database_is_backed_up_like_the_stacks_own(restored, inventories):
    inventory, _ = restored
    own = inventories["prod"].named("weekly")
    clone = inventory.named("weekly-restored")
    assert clone.get("database") == RESTORED
    assert {k: v for k, v in clone.inputs.items() if k != "database"} == {
        k: v for k, v in own.inputs.items() if k != "database"
    }
    assert inventory.named("weekly").inputs == own.inputs


def test_the_stack_keeps_its_own_database(restored, inventories):
    inventory, _ = restored
    own = inventories["prod"]
    assert inventory.only(DATABASE).inputs == own.only(DATABASE).inputs
    assert load_environment("prod").store.deletion_protection
    assert inventory.only(DATABASE).options == own.only(DATABASE).options == {"protect": True}


def test_the_output_names_the_restored_database(restored):
    _, outputs = restored
    assert outputs["firestoreDatabase"] == RESTORED


def test_without_the_key_the_fleet_and_output_use_the_stacks_own_database(gcp, inventories):
    inventory, outputs = _preview(gcp)
    own = inventory.only(DATABASE).get("name")
    assert outputs["firestoreDatabase"] == own
    assert service_environment(inventory)["FIRESTORE_DATABASE"] == own
    assert inventory.named(GRANT).get("condition.expression").endswith(f'/databases/{own}"')


@pytest.mark.parametrize(
    "value",
    [f"projects/p/databases/{RESTORED}", "Restored", "abc", "9-restored", "restored-", "a" * 64],
)
def test_a_value_that_is_not_a_database_id_is_refused(gcp, value):
    refusal = gcp.refusal("prod", {**gcp.config("prod"), f"{NS}:itemsDatabase": value})
    assert refusal.environment == "prod"
    [problem] = refusal.problems
    assert (problem.field, problem.value) == (f"{NS}:itemsDatabase", value)
    assert "ID (not the full name) of a Firestore database" in problem.rule


def test_the_stacks_own_database_is_refused(gcp):
    own = gcp.module("item_store").database_name("prod")
    refusal = gcp.refusal("prod", {**gcp.config("prod"), f"{NS}:itemsDatabase": own})
    assert refusal.environment == "prod"
    [problem] = refusal.problems
    assert (problem.field, problem.value) == (f"{NS}:itemsDatabase", own)
    assert "another database than the stack's own" in problem.rule


# Switching back (restore-store.md, Rollback): `itemsDatabaseDraining` names the clone the fleet served, so
# the instances the rollout has not replaced yet keep their grant on it until the rollout has finished.
@pytest.fixture(scope="module")
def draining(gcp) -> tuple[Inventory, dict[str, Any]]:
    return _preview(gcp, **{f"{NS}:itemsDatabaseDraining": RESTORED})


def test_a_draining_database_keeps_its_place_in_the_grant_unchanged(restored, draining):
    # The same condition (title and expression) as while it was served: Rollback step 1 leaves the binding
    # as it was (a changed condition would replace it).
    (served, _), (kept, _) = restored, draining
    assert kept.named(GRANT).inputs == served.named(GRANT).inputs


def test_a_draining_database_keeps_nothing_more(restored, draining, inventories):
    (served, _), (kept, outputs) = restored, draining
    default = inventories["prod"]
    own = default.only(DATABASE).get("name")
    assert outputs["firestoreDatabase"] == own
    assert service_environment(kept)["FIRESTORE_DATABASE"] == own
    assert kept.named("store-errors").inputs == default.named("store-errors").inputs
    # Its backup schedule goes with the switch; only the read of it (no resource in the project) is added.
    assert "weekly-restored" in {r.name for r in served.resources}
    custom = {r.name: r.inputs for r in kept.resources if r.custom and r.name != GRANT}
    assert custom == {r.name: r.inputs for r in default.resources if r.custom and r.name != GRANT}


def test_without_the_draining_key_its_name_leaves_the_grant(gcp, draining, inventories):
    # Rollback step 3: the binding is replaced by one naming the stack's own database only.
    kept, _ = draining
    assert f"/databases/{RESTORED}" in kept.named(GRANT).get("condition.expression")
    assert f"/databases/{RESTORED}" not in inventories["prod"].named(GRANT).get("condition.expression")


def test_serving_one_clone_while_another_drains_grants_all_three(gcp, inventories):
    inventory, _ = _preview(
        gcp, **{f"{NS}:itemsDatabase": f"{RESTORED}-2", f"{NS}:itemsDatabaseDraining": RESTORED}
    )
    own = inventories["prod"].only(DATABASE).get("name")
    # The stack's own database first, then the others sorted (not by role: see the next test).
    assert inventory.named(GRANT).get("condition.expression") == " || ".join(
        f'resource.name == "projects/{_project(gcp)}/databases/{db}"'
        for db in (own, RESTORED, f"{RESTORED}-2")
    )
    assert inventory.named(GRANT).get("condition.title") == f"only-{own}-and-{RESTORED}-and-{RESTORED}-2"
    assert service_environment(inventory)["FIRESTORE_DATABASE"] == f"{RESTORED}-2"


@pytest.mark.parametrize("second", [f"{RESTORED}-2", "a-restored"])
def test_two_databases_swapping_served_and_draining_leave_the_grant_unchanged(gcp, second):
    # The switch of the forward path when the fleet is already on a clone (served = the new clone, draining =
    # the previous one) and its rollback (the mirror) keep the binding: a changed condition would replace it,
    # and the new binding would wait out IAM propagation while instances use both databases. Both orders of
    # the names (the second sorting after and before RESTORED) are checked.
    grants = [
        _preview(gcp, **{f"{NS}:itemsDatabase": served, f"{NS}:itemsDatabaseDraining": drained})[0].named(
            GRANT
        )
        for served, drained in ((RESTORED, second), (second, RESTORED))
    ]
    assert grants[0].inputs == grants[1].inputs
    title = grants[0].get("condition.title")
    assert RESTORED in title and second in title


def test_a_grant_title_over_iams_limit_is_refused_naming_both_keys(gcp):
    # IAM refuses a condition title over its limit (settings.CONDITION_TITLE_MAX) at `pulumi up`, after the
    # preview; the settings refuse it before anything is built, naming both keys that make it long.
    settings, item_store = gcp.module("settings"), gcp.module("item_store")
    own = item_store.database_name("prod")
    budget = settings.CONDITION_TITLE_MAX - len(item_store.grant_title(own, ["", ""]))
    served, drained = "a" * 40, "b" * (budget - 40 + 1)
    problems = _problems(gcp, **{f"{NS}:itemsDatabase": served, f"{NS}:itemsDatabaseDraining": drained})
    assert problems.keys() == {f"{NS}:itemsDatabase", f"{NS}:itemsDatabaseDraining"}
    assert problems[f"{NS}:itemsDatabase"][0] == served
    assert problems[f"{NS}:itemsDatabaseDraining"][0] == drained
    rule = problems[f"{NS}:itemsDatabase"][1]
    assert f"{settings.CONDITION_TITLE_MAX + 1} characters long" in rule and f"at most {budget}" in rule
    # One character less is exactly at the limit, and previews.
    inventory, _ = _preview(
        gcp, **{f"{NS}:itemsDatabase": served, f"{NS}:itemsDatabaseDraining": drained[:-1]}
    )
    assert len(inventory.named(GRANT).get("condition.title")) == settings.CONDITION_TITLE_MAX


def test_a_draining_database_is_read_like_the_served_one(gcp):
    mocks = _ReadingMocks(gcp)
    gcp.preview(
        "prod", {**gcp.config("prod"), f"{NS}:itemsDatabaseDraining": RESTORED}, RecordingMonitor(mocks)
    )
    assert (DATABASE, f"projects/{_project(gcp)}/databases/{RESTORED}") in mocks.reads


def _problems(gcp, **config: str) -> dict[str, tuple[Any, str]]:
    refusal = gcp.refusal("prod", {**gcp.config("prod"), **config})
    assert refusal.environment == "prod"
    return {problem.field: (problem.value, problem.rule) for problem in refusal.problems}


@pytest.mark.parametrize("value", [f"projects/p/databases/{RESTORED}", "Restored", "abc", "restored-"])
def test_a_draining_value_that_is_not_a_database_id_is_refused_with_the_served_one(gcp, value):
    problems = _problems(gcp, **{f"{NS}:itemsDatabaseDraining": value, f"{NS}:itemsDatabase": "-bad"})
    assert set(problems) == {f"{NS}:itemsDatabaseDraining", f"{NS}:itemsDatabase"}
    assert problems[f"{NS}:itemsDatabaseDraining"][0] == value
    assert "ID (not the full name) of a Firestore database" in problems[f"{NS}:itemsDatabaseDraining"][1]


@pytest.mark.parametrize("served", [True, False])
def test_a_draining_database_the_fleet_serves_or_owns_is_refused(gcp, served):
    value = RESTORED if served else gcp.module("item_store").database_name("prod")
    config = {f"{NS}:itemsDatabaseDraining": value, **({f"{NS}:itemsDatabase": RESTORED} if served else {})}
    problems = _problems(gcp, **config)
    assert set(problems) == {f"{NS}:itemsDatabaseDraining"}
    assert problems[f"{NS}:itemsDatabaseDraining"][0] == value
    rule = problems[f"{NS}:itemsDatabaseDraining"][1]
    assert "neither the stack's own" in rule
    # Review 2, finding 8a: draining also means "about to be served" (the grant step).
    assert "granted but not served (a clone about to be served, or the one served before)" in rule
