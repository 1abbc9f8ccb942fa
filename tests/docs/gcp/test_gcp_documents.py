"""The GCP documents read the stacks: facts from the offline inventory, runbooks that change when the
inventory does, permissions derived from the commands, and alert policies that link to a generated runbook."""

from __future__ import annotations

import re

import pytest

from refarch.inventory import Inventory
from refarch_pulumi.offline import project
from tests.docs.gcp.gcp_restore_store import mutated
from tests.docs.runbook_harness import in_order
from tools.docs.commands import gcloud, simple_commands
from tools.docs.gcp.facts import AUTOSCALER, BACKEND, GROUP, HEALTH_CHECK, facts
from tools.docs.gcp.runbooks import GRANT_TITLE_PREFIX, IAM_PROPAGATION_SECONDS, runbooks

monitoring = project("gcp").module("monitoring")

IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"


def gcp_stacks(generated):
    stacks = [stack for stack in generated if stack.facts.cloud == "gcp"]
    assert {stack.facts.environment for stack in stacks} == set(project("gcp").stacks())
    return stacks


def test_facts_are_the_inventory_values(docs_inputs, generated):
    for stack in gcp_stacks(generated):
        model = docs_inputs.models["gcp"][stack.facts.environment]
        policy = model.only(AUTOSCALER).get("autoscalingPolicy")
        update = model.only(GROUP).get("updatePolicy")
        assert (stack.facts.min_size, stack.facts.max_size) == (policy["minReplicas"], policy["maxReplicas"])
        assert stack.facts.surge == update["maxSurgeFixed"]
        assert stack.facts.minimum_healthy == policy["minReplicas"] - update["maxUnavailableFixed"]
        assert stack.facts.zones == tuple(model.only(GROUP).get("distributionPolicyZones"))
        assert stack.facts.draining_seconds == model.only(BACKEND).get("connectionDrainingTimeoutSec")
        assert stack.facts.health_check.interval_seconds == model.only(HEALTH_CHECK).get("checkIntervalSec")


@pytest.mark.parametrize(
    ("type_", "path", "value", "scenario", "text"),
    [
        (
            AUTOSCALER,
            "autoscalingPolicy.minReplicas",
            7,
            "replace-one-instance",
            "(at the minimum: 8)",
        ),
        (HEALTH_CHECK, "checkIntervalSec", 17, "replace-every-instance", "interval 17 s"),
        (BACKEND, "connectionDrainingTimeoutSec", 45, "replace-one-instance", "draining 45 s"),
    ],
)
def test_a_changed_stack_changes_the_runbook(docs_inputs, type_, path, value, scenario, text):
    model = docs_inputs.models["gcp"]["prod"]
    spec = docs_inputs.specs["prod"]

    def rendered(inventory: Inventory) -> str:
        books = runbooks(facts("prod", inventory, spec))
        book = next(book for book in books if book.scenario == scenario)
        return repr(book)

    assert text not in rendered(model)
    assert text in rendered(mutated(model, type_, path, value))


def test_permissions_are_derived_from_the_commands(generated):
    for stack in gcp_stacks(generated):
        for runbook in stack.runbooks:
            for command in runbook.commands():
                for argv in simple_commands(command):
                    surface = gcloud.surface_of(argv) if argv[0] == "gcloud" else None
                    for permission in surface.permissions if surface else ():
                        assert f"`{permission}`" in runbook.permissions, (runbook.scenario, permission)


def test_a_cache_without_replica_says_sessions_are_lost(docs_inputs):
    model = docs_inputs.models["gcp"]["prod"]
    basic = mutated(model, "gcp:redis/instance:Instance", "tier", "BASIC")
    book = next(
        b
        for b in runbooks(facts("prod", basic, docs_inputs.specs["prod"]))
        if b.scenario == "cache-primary-failure"
    )
    assert "loses every session" in book.blast_radius
    assert not any("failover" in step.command for step in book.steps)


def test_every_alert_links_to_its_generated_document(docs_inputs, documents):
    for environment, model in docs_inputs.models["gcp"].items():
        policies = model.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
        assert {policy.name for policy in policies} == set(monitoring.ALERT_DOCUMENTS)
        for policy in policies:
            link = re.search(r"Runbook: (\S+)", policy.get("documentation.content")).group(1)
            assert link.startswith(f"runbooks/gcp/{environment}/"), (policy.name, link)
            assert link.removeprefix("runbooks/") in documents, (policy.name, link)


def test_the_surface_table_lists_only_what_the_runbooks_use(generated):
    used = {
        gcloud.surface_of(argv).command
        for stack in gcp_stacks(generated)
        for runbook in stack.runbooks
        for command in runbook.commands()
        for argv in simple_commands(command)
        if argv[0] == "gcloud"
    }
    assert {surface.command for surface in gcloud.load().surfaces} == used


GROUP_MANAGER = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
STACK = "--stack prod --cwd pulumi/gcp"


def _keys() -> tuple[str, str]:
    """The served and draining keys, as the settings model reads them."""
    fields = project("gcp").module("settings").GcpSettings.model_fields
    return fields["items_database"].alias, fields["items_database_draining"].alias


def _restore(model: Inventory, spec):
    return next(b for b in runbooks(facts("prod", model, spec)) if b.scenario == "restore-store")


def _step(steps, text: str) -> int:
    """The index of the only step whose command holds `text`."""
    [index] = [i for i, step in enumerate(steps) if text in step.command]
    return index


def test_restore_runbook_switches_with_the_key_the_program_reads_and_sets_what_a_clone_lacks(docs_inputs):
    """The switch sets the settings model's key for the clone; the clone gets the point-in-time recovery and
    delete protection the stack's own database has, and only those: a database without them asks neither."""
    served, _ = _keys()
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    database = "gcp:firestore/database:Database"
    steps = _restore(model, spec).steps
    switch = steps[_step(steps, f'pulumi config set {served} "$RESTORED"')]
    # After the grant-first check (test_gcp_restore_store_switch.py).
    assert switch.command.startswith(': "${RESTORED:?}" && ')
    assert f'  && pulumi config set {served} "$RESTORED" {STACK} ' in switch.command
    update = [line for step in steps for line in step.command.splitlines() if "databases update" in line]
    # The rollback's delete turns protection off again: only the forward steps give the clone settings.
    assert update == [
        'gcloud firestore databases update --database="$RESTORED" --enable-pitr '
        '--delete-protection --project="$PROJECT"'
    ]
    bare = mutated(
        mutated(model, database, "deleteProtectionState", "DELETE_PROTECTION_DISABLED"),
        database,
        "pointInTimeRecoveryEnablement",
        "POINT_IN_TIME_RECOVERY_DISABLED",
    )
    bare_steps = _restore(bare, spec).steps
    assert not [step for step in bare_steps if "databases update" in step.command]
    assert not [step for step in _restore(bare, spec).rollback if "--no-delete-protection" in step.command]
    retire = next(step for step in bare_steps if step.title.startswith("Retire the old database"))
    assert retire.expected.startswith("`DELETE_PROTECTION_DISABLED`")
    # Step numbers in the text follow the steps actually rendered (no settings step here).
    grant = _step(bare_steps, f'pulumi config set {_keys()[1]} "$RESTORED"')
    assert f"step {grant + 1} refuses" in " ".join(_restore(bare, spec).preconditions)


def test_restore_grants_the_clone_and_waits_out_iam_propagation_before_switching(docs_inputs):
    """Review finding 2: the clone is granted (as draining) in an update of its own, then the runbook waits
    IAM's documented propagation time, then switches; the switch leaves the binding as it was (the stack
    renders the same condition for a database served or draining: tests/gcp/test_gcp_restored_store.py)."""
    served, draining = _keys()
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    book = _restore(model, spec)
    steps = book.steps
    grant = _step(steps, f'pulumi config set {draining} "$RESTORED"')
    wait = _step(steps, f"sleep {IAM_PROPAGATION_SECONDS}\n")  # not the clone wait's polling sleep
    switch = _step(steps, f'pulumi config set {served} "$RESTORED"')
    assert grant < wait < switch
    propagation = IAM_PROPAGATION_SECONDS
    assert f"sleep {propagation}\n" in steps[wait].command
    assert any(
        d.seconds == propagation and "iam/docs/access-change-propagation" in d.formula for d in book.durations
    )
    # One binding per database (final GCP review, finding 1): granting creates the clone's, a switch
    # changes none.
    assert "`fleet-uses-database-$RESTORED` created" in steps[grant].expected
    assert "replaced" not in steps[grant].expected
    assert "no binding changed" in steps[switch].expected and "binding replaced" not in steps[switch].expected
    # The switch lets the database served before drain (or, with none, removes the draining key).
    assert f'pulumi config set {draining} "$PREVIOUS" {STACK}' in steps[switch].command
    assert f"pulumi config rm {draining} {STACK}" in steps[switch].command


def test_restore_records_what_the_fleet_served_before_in_a_state_file(docs_inputs):
    """Review finding 3: started while the fleet serves a clone, the restore keeps that clone granted while it
    drains (PREVIOUS), drops it only afterwards, and the retire step names the stack's own database, not the
    `$DATABASE` looked up (a clone then). The state file survives a lost shell."""
    served, draining = _keys()
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    book = _restore(model, spec)
    steps = book.steps
    grant = steps[_step(steps, f'pulumi config set {draining} "$RESTORED"')].command
    assert in_order(
        grant,
        f"PREVIOUS=$(pulumi config get {served} {STACK} || true)",
        'test ! -e "$STATE"',
        '"$RESTORED" "$PREVIOUS" >"$STATE"',
        f'pulumi config set {draining} "$RESTORED"',
        f"pulumi up {STACK} --yes",
    )
    # A refused re-run (a restore in progress) must not leave the PREVIOUS it just re-read in the shell.
    assert grant.splitlines()[-1] == 'test -f "$STATE" && . "$STATE"'
    state = next(lookup for lookup in book.lookups if lookup.variable == "STATE")
    assert '. "$STATE"' in " ".join(book.after_lookups) and "restore-store-prod" in state.command
    drop = steps[_step(steps, 'if test -n "$PREVIOUS"; then \\\n')]
    assert f"pulumi config rm {draining} {STACK}" in drop.command
    own = model.only("gcp:firestore/database:Database").get("name")
    retire = steps[-1]
    assert retire.title.startswith("Retire the old database")
    assert f'--database="{own}"' in retire.command and "$DATABASE" not in retire.command
    assert 'mv "$STATE" "$STATE.done"' in retire.command


def test_restore_commits_every_setting_before_deploying_it(docs_inputs):
    """Review: a setting left out of pulumi/gcp/Pulumi.<env>.yaml in git is undone by the next deployment
    from another checkout. Every command that changes a setting commits that file before `pulumi up`."""
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    book = _restore(model, spec)
    changing = [
        step.command
        for step in (*book.steps, *book.rollback)
        if re.search(r"pulumi config (set|rm) ", step.command)
    ]
    assert len(changing) == 5  # grant, switch, drop the previous clone; rollback: switch back, drop the clone
    for command in changing:
        last_change = max(m.end() for m in re.finditer(r"pulumi config (set|rm) [^\n;]*", command))
        commit = command.index("git commit -m ")
        assert last_change < commit < command.index(f"pulumi up {STACK} --yes"), command
        assert command[commit:].split("&&")[0].rstrip(" \\\n").endswith("pulumi/gcp/Pulumi.prod.yaml")


def test_restore_says_pulumi_up_waits_for_the_group_and_where_a_failed_update_leaves_the_fleet(docs_inputs):
    """Review finding 1: the group waits for its instances (`waitForInstances`, status UPDATED), so `pulumi
    up` returns after the rollout and the wait steps are confirmations; the likeliest failure of the switch
    is that wait timing out, with instances already on the clone: Rollback step 1, which keeps both
    granted."""
    served, _ = _keys()
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    group = model.only(GROUP_MANAGER)
    assert group.get("waitForInstances") is True and group.get("waitForInstancesStatus") == "UPDATED"
    book = _restore(model, spec)
    steps = book.steps
    switch = _step(steps, f'pulumi config set {served} "$RESTORED"')
    assert "returns once every instance runs it" in steps[switch].title
    assert "after the group was updated" in steps[switch].stop_if
    assert "some instances already use the clone" in steps[switch].stop_if
    assert "Rollback step 2" in steps[switch].stop_if
    confirm = steps[switch + 1]
    assert "--version-target-reached" in confirm.command
    assert "returns at once after a successful `pulumi up`" in confirm.title
    assert "never drops the clone while instances still use it" in book.rollback[1].title


def test_restore_rollback_is_the_mirror_of_the_switch(docs_inputs):
    """(1) a closed run reopened, on its own; (2) served = PREVIOUS (or removed), draining = the clone,
    commit, up; (3) the forward path's confirmation; (4) draining removed, commit, up; (5-7) the clone's
    backups listed and deleted (review finding 5: they outlive the database), then the clone; (8) the state
    file closed."""
    served, draining = _keys()
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    book = _restore(model, spec)
    _, back, wait, undrain, listing, delete, _, close = book.rollback
    assert in_order(
        back.command,
        f'pulumi config set {served} "$PREVIOUS" {STACK}',
        f"else pulumi config rm {served} {STACK}",
        f'pulumi config set {draining} "$RESTORED" {STACK}',
        f"pulumi up {STACK} --yes",
    )
    assert "no binding changed" in back.expected
    switch = _step(book.steps, f'pulumi config set {served} "$RESTORED"')
    forward_wait = book.steps[switch + 1]
    assert (wait.command, wait.title) == (forward_wait.command, forward_wait.title)
    assert draining in wait.stop_if
    assert undrain.command.startswith(f"pulumi config rm {draining} {STACK}")
    own = model.only("gcp:firestore/database:Database").get("name")
    assert "`fleet-uses-database-$RESTORED` deleted" in undrain.expected
    assert f"`fleet-uses-items` on `{own}`" in undrain.expected and "clone itself stays" in undrain.expected
    assert (
        "--filter=\"database~'/databases/$RESTORED\\$'\"" in listing.command
        and 'gcloud firestore backups delete --backup="$BACKUP" --location="$REGION"' in delete.command
    )
    assert close.command == 'mv "$STATE" "$STATE.done"'


def test_restore_reads_the_fleets_bindings_only(docs_inputs):
    """Review finding 6: the grant check filters on the fleet's bindings (their condition titles' prefix, as
    the stack renders them for the own database and a clone): the fleet's item role and member only (last
    GCP review, finding 6: test_gcp_restore_store_switch.py)."""
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    gcp = project("gcp")
    clone = gcp.preview("prod", {**gcp.config("prod"), "refarch-gcp:itemsDatabaseDraining": "the-clone"})
    titles = [g.get("condition.title") for g in clone.of_type(IAM_MEMBER) if g.get("condition", None)]
    assert len(titles) == 2 and all(title.startswith(GRANT_TITLE_PREFIX) for title in titles)
    # Steps 6 and 11 read them; the switch (step 7) checks the clone's is there
    # (test_gcp_restore_store_switch.py).
    checks = [step for step in _restore(model, spec).steps if "get-iam-policy" in step.command]
    assert len(checks) == 3
    for check in checks:
        assert "bindings.role~'^projects/$PROJECT/roles/" in check.command
        assert "bindings.members~'^serviceAccount:" in check.command


def test_restore_grant_step_names_the_clones_own_binding_as_the_stack_renders_it(docs_inputs):
    """The grant step's text names the clone's binding as the stack renders it (resource name, title and
    expression, read from a preview with the setting) and says the others stay as they are (final GCP review,
    finding 1: a changed condition is delete-replaced)."""
    _, draining = _keys()
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    steps = _restore(model, spec).steps
    grant = steps[_step(steps, f'pulumi config set {draining} "$RESTORED"')]
    gcp, clone = project("gcp"), "the-clone"
    config = {**gcp.config("prod"), f"refarch-gcp:{draining}": clone}
    bindings = [g for g in gcp.preview("prod", config).of_type(IAM_MEMBER) if g.get("condition", None)]
    own = model.only("gcp:firestore/database:Database").get("name")
    (rendered,) = [g for g in bindings if clone in g.get("condition.expression")]
    (kept,) = [g for g in bindings if g is not rendered]
    project_id = gcp.config("prod")["gcp:project"]
    name, title = (
        rendered.name.replace(clone, "<clone>"),
        rendered.get("condition.title").replace(clone, "<clone>"),
    )
    expression = rendered.get("condition.expression").replace(clone, "<clone>")
    assert f"`{name}`" in grant.title and f"`{title}`" in grant.title
    assert f"`{expression.replace(f'projects/{project_id}', '...')}`" in grant.title
    assert f"binding on `{own}` (`{kept.name}`)" in grant.title and "stay as they are" in grant.title
    assert "replaces the fleet's conditioned binding" not in grant.title
    assert "fails the preview" in grant.title and "misspelt" in grant.title


def _changed(before: Inventory, after: Inventory) -> set[str]:
    """Custom resources created, deleted or with other inputs between two previews."""
    old = {r.name: r.inputs for r in before.resources if r.custom}
    new = {r.name: r.inputs for r in after.resources if r.custom}
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def test_restore_grant_and_drop_steps_name_everything_their_update_changes(docs_inputs):
    """The grant step (draining set) and the step that stops granting the clone (draining removed) name every
    resource their `pulumi up` changes, read from previews with and without the setting: the clone's binding
    and the store alert (final GCP review, findings 1 and 3), and say nothing else changes."""
    _, draining = _keys()
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    book = _restore(model, spec)
    grant = book.steps[_step(book.steps, f'pulumi config set {draining} "$RESTORED"')]
    undrain = book.rollback[_step(book.rollback, f"pulumi config rm {draining}")]
    gcp = project("gcp")
    default = gcp.preview("prod", gcp.config("prod"))
    granted = gcp.preview("prod", {**gcp.config("prod"), f"refarch-gcp:{draining}": "the-clone"})
    changed = {name.replace("the-clone", "$RESTORED") for name in _changed(default, granted)}
    assert len(changed) == 2
    for step in (grant, undrain):
        assert all(f"`{name}`" in step.expected for name in changed), (changed, step.expected)
        assert "nothing else" in step.expected
