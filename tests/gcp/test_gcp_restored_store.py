"""Config `refarch-gcp:itemsDatabase` points the fleet at a cloned Firestore database (`gcloud firestore
databases clone`, a point-in-time restore into a new database of the project): the instances'
FIRESTORE_DATABASE, the fleet's database-conditioned grant, the store alert and the stack's output follow it;
the stack's own database stays. Without the key nothing changes (the snapshots hold that).

A clone is a new database and takes none of the source's IAM conditions (they name a database), so the grant
must name the clone ("Clone a database", cloud.google.com/firestore/docs/use-pitr#clone-database; IAM
conditions on Firestore databases, cloud.google.com/firestore/docs/security/iam#iam_conditions).
"""

from __future__ import annotations

import itertools
import re
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
IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"


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


def _grants(inventory: Inventory) -> dict[str, Any]:
    """The fleet's store bindings (the project-wide ones with a condition) by resource name."""
    return {g.name: g for g in inventory.of_type(IAM_MEMBER) if g.get("condition", None) is not None}


def _clone_grant(gcp, database: str) -> str:
    return gcp.module("item_store").grant_name(gcp.module("item_store").database_name("prod"), database)


def test_the_fleet_may_use_both_databases_during_a_switch(gcp, restored, inventories):
    # Instances not yet replaced keep using the stack's own database: its binding stays as it was, and the
    # clone gets a binding of its own, conditioned on the clone only.
    inventory, _ = restored
    grants, own = _grants(inventory), inventories["prod"].named(GRANT)
    assert grants.keys() == {GRANT, _clone_grant(gcp, RESTORED)}
    assert grants[GRANT].inputs == own.inputs
    clone = grants[_clone_grant(gcp, RESTORED)]
    assert (clone.get("role"), clone.get("member")) == (own.get("role"), own.get("member"))
    assert (
        clone.get("condition.expression")
        == f'resource.name == "projects/{_project(gcp)}/databases/{RESTORED}"'
    )
    assert clone.get("condition.title") == f"only-{RESTORED}"


# Every setting of the restore switch: default, granted first (draining), served, served with the own draining
# away, a clone served while another drains, and the swap of the two.
SECOND = f"{RESTORED}-2"
SETTINGS = {
    "default": {},
    "draining": {"itemsDatabaseDraining": RESTORED},
    "served": {"itemsDatabase": RESTORED},
    "served+draining": {"itemsDatabase": SECOND, "itemsDatabaseDraining": RESTORED},
    "swapped": {"itemsDatabase": RESTORED, "itemsDatabaseDraining": SECOND},
}


@pytest.fixture(scope="module")
def switch_grants(gcp) -> dict[str, dict[str, Any]]:
    return {
        label: _grants(_preview(gcp, **{f"{NS}:{k}": v for k, v in config.items()})[0])
        for label, config in SETTINGS.items()
    }


def test_granting_draining_or_serving_a_database_changes_no_other_databases_binding(switch_grants):
    # pulumi-gcp marks projects.IAMMember DeleteBeforeReplace (github.com/pulumi/pulumi-gcp/pull/2650,
    # provider/resources.go) and the upstream condition is ForceNew: a binding whose inputs change is
    # deleted before its replacement exists, and the fleet loses that database until IAM propagates the new
    # one. So between any two settings of the switch, a binding present in both has the same inputs: every
    # step only creates or deletes the binding of the database it grants or drops.
    for before, after in itertools.permutations(switch_grants.values(), 2):
        for name in before.keys() & after.keys():
            assert before[name].inputs == after[name].inputs, name
    # The stack's own database is granted in every setting, the clones exactly where named.
    assert all(GRANT in grants for grants in switch_grants.values())
    assert [len(grants) for grants in switch_grants.values()] == [1, 2, 2, 3, 3]


def test_the_served_databases_binding_is_the_same_served_or_draining(gcp, switch_grants):
    # A switch (served <-> draining) leaves the binding as it was; the stack's own binding is the default's.
    clone = _clone_grant(gcp, RESTORED)
    inputs = [
        switch_grants[label][clone].inputs for label in ("draining", "served", "served+draining", "swapped")
    ]
    assert all(i == inputs[0] for i in inputs)
    own = [grants[GRANT].inputs for grants in switch_grants.values()]
    assert all(i == own[0] for i in own)


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


def test_the_fleet_waits_for_the_clones_backup_schedule_and_every_binding(gcp):
    inventory, _ = _preview(gcp, **{f"{NS}:itemsDatabase": SECOND, f"{NS}:itemsDatabaseDraining": RESTORED})
    (group,) = inventory.of_type("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert {"weekly-restored", *_grants(inventory)} <= set(group.depends_on)
    assert len(_grants(inventory)) == 3


def test_the_store_alert_watches_the_restored_database(restored):
    inventory, _ = restored
    policy = inventory.named("store-errors")
    text = policy.get("conditions.0.conditionThreshold.filter")
    # With the stack's own, which instances not yet replaced still call (the store-alert tests below).
    assert f'resource.label.database_id = one_of("{RESTORED}", ' in text


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
    assert _grants(inventory).keys() == {GRANT}


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


def test_a_draining_database_keeps_its_binding_unchanged(gcp, restored, draining):
    # Rollback step 1 leaves the clone's binding as it was while it was served.
    (served, _), (kept, _) = restored, draining
    assert _grants(kept).keys() == _grants(served).keys()
    assert kept.named(_clone_grant(gcp, RESTORED)).inputs == served.named(_clone_grant(gcp, RESTORED)).inputs


def test_a_draining_database_keeps_its_grant_and_alert_only(gcp, restored, draining, inventories):
    (served, _), (kept, outputs) = restored, draining
    default = inventories["prod"]
    own = default.only(DATABASE).get("name")
    assert outputs["firestoreDatabase"] == own
    assert service_environment(kept)["FIRESTORE_DATABASE"] == own
    # Its backup schedule goes with the switch; only the read of it (no resource in the project) is added.
    assert "weekly-restored" in {r.name for r in served.resources}
    watched = {GRANT, _clone_grant(gcp, RESTORED), "store-errors"}
    custom = {r.name: r.inputs for r in kept.resources if r.custom and r.name not in watched}
    assert custom == {r.name: r.inputs for r in default.resources if r.custom and r.name not in watched}


@pytest.mark.parametrize(
    "config, watched",
    [
        ({"itemsDatabaseDraining": RESTORED}, ("<own>", RESTORED)),
        # The stack's own too, while a clone is served (the store-alert tests below).
        ({"itemsDatabase": SECOND, "itemsDatabaseDraining": RESTORED}, (SECOND, RESTORED, "<own>")),
    ],
)
def test_while_a_database_drains_the_store_alert_watches_it_with_the_served_one(
    gcp, inventories, config, watched
):
    # Instances not yet replaced call the draining database until the rollout ends: their errors count too
    # (`one_of` on a label: cloud.google.com/monitoring/api/v3/filters).
    own = inventories["prod"].only(DATABASE).get("name")
    inventory, _ = _preview(gcp, **{f"{NS}:{k}": v for k, v in config.items()})
    text = inventory.named("store-errors").get("conditions.0.conditionThreshold.filter")
    ids = ", ".join(f'"{own if db == "<own>" else db}"' for db in watched)
    assert f"resource.label.database_id = one_of({ids}) AND " in text
    default = inventories["prod"].named("store-errors").get("conditions.0.conditionThreshold.filter")
    assert text == default.replace(f'database_id = "{own}"', f"database_id = one_of({ids})")


def test_without_the_draining_key_its_binding_goes(gcp, draining, inventories):
    # Rollback step 3 deletes the clone's binding; the stack's own stays as it was.
    kept, _ = draining
    assert _clone_grant(gcp, RESTORED) in _grants(kept)
    assert _grants(inventories["prod"]).keys() == {GRANT}
    assert kept.named(GRANT).inputs == inventories["prod"].named(GRANT).inputs


def test_serving_one_clone_while_another_drains_grants_all_three(gcp, inventories):
    inventory, _ = _preview(gcp, **{f"{NS}:itemsDatabase": SECOND, f"{NS}:itemsDatabaseDraining": RESTORED})
    own = inventories["prod"].only(DATABASE).get("name")
    expressions = {g.get("condition.expression") for g in _grants(inventory).values()}
    assert expressions == {
        f'resource.name == "projects/{_project(gcp)}/databases/{db}"' for db in (own, RESTORED, SECOND)
    }
    assert service_environment(inventory)["FIRESTORE_DATABASE"] == SECOND


def test_the_longest_database_id_is_a_valid_resource_name_and_title(gcp):
    # A database ID has at most 63 characters (settings.py): its binding previews, named after it.
    longest = "a" * 63
    inventory, _ = _preview(gcp, **{f"{NS}:itemsDatabase": longest})
    assert _grants(inventory)[_clone_grant(gcp, longest)].get("condition.title") == f"only-{longest}"


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


# The store alert watches the stack's own database while a clone is served or drains, each database once.
@pytest.mark.parametrize("label", ["served", "served+draining", "swapped"])
def test_the_store_alert_watches_the_own_database_while_a_clone_is_served(gcp, inventories, label):
    config = SETTINGS[label]
    inventory, _ = _preview(gcp, **{f"{NS}:{k}": v for k, v in config.items()})
    own = inventories["prod"].only("gcp:firestore/database:Database").get("name")
    text = inventory.named("store-errors").get("conditions.0.conditionThreshold.filter")
    [ids] = re.findall(r"resource\.label\.database_id = one_of\(([^)]*)\)", text)
    watched = re.findall(r'"([^"]+)"', ids)
    assert watched[0] == config["itemsDatabase"]
    assert sorted(watched) == sorted({own, *config.values()})


def test_the_store_alert_names_each_database_once(gcp, inventories):
    # Serving the own database while a clone drains (Rollback step 2): the own one is the served one.
    inventory, _ = _preview(gcp, **{f"{NS}:itemsDatabaseDraining": RESTORED})
    own = inventories["prod"].only("gcp:firestore/database:Database").get("name")
    text = inventory.named("store-errors").get("conditions.0.conditionThreshold.filter")
    assert f'database_id = one_of("{own}", "{RESTORED}")' in text
    assert SECOND not in text
