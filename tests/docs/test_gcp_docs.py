"""The GCP documents read the stacks: facts from the offline inventory, runbooks that change when the
inventory does, permissions derived from the commands, and alert policies that link to a generated runbook."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from refarch.inventory import Inventory
from refarch_pulumi.offline import project
from tools.docs.commands import gcloud, simple_commands
from tools.docs.gcp.facts import AUTOSCALER, BACKEND, GROUP, HEALTH_CHECK, facts
from tools.docs.gcp.runbooks import runbooks

monitoring = project("gcp").module("monitoring")


def gcp_stacks(generated):
    stacks = [stack for stack in generated if stack.facts.cloud == "gcp"]
    assert {stack.facts.environment for stack in stacks} == set(project("gcp").stacks())
    return stacks


def mutated(model: Inventory, type_: str, path: str, value) -> Inventory:
    """The inventory with one input of the only resource of `type_` changed (a dotted path)."""
    resources = []
    for resource in model:
        if resource.type == type_:
            inputs = dict(resource.inputs)
            head, _, tail = path.partition(".")
            inputs[head] = {**inputs[head], tail: value} if tail else value
            resource = replace(resource, inputs=inputs)
        resources.append(resource)
    return Inventory(resources)


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


def test_restore_runbook_switches_with_the_key_the_program_reads_and_sets_what_a_clone_lacks(docs_inputs):
    """The switch sets the settings model's key for the clone; the clone gets the point-in-time recovery and
    delete protection the stack's own database has, and only those: a database without them asks neither."""
    key = project("gcp").module("settings").GcpSettings.model_fields["items_database"].alias
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    database = "gcp:firestore/database:Database"

    def steps(inventory: Inventory):
        book = next(b for b in runbooks(facts("prod", inventory, spec)) if b.scenario == "restore-store")
        return book.steps

    switch = next(step for step in steps(model) if step.command.startswith("pulumi config set"))
    assert switch.command.startswith(f'pulumi config set {key} "$RESTORED" --stack prod --cwd pulumi/gcp && ')
    update = [step.command for step in steps(model) if "databases update" in step.command]
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
    assert not [step for step in steps(bare) if "databases update" in step.command]
    retire = next(step for step in steps(bare) if step.title.startswith("Retire the old database"))
    assert retire.expected == "`DELETE_PROTECTION_DISABLED`"


def test_restore_runbook_expects_the_grant_on_both_databases(docs_inputs):
    """During a switch the fleet's grant names the clone and the stack's own database (instances not yet
    replaced still use it): the check step expects both, and the switch says a misspelt clone fails."""
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    book = next(b for b in runbooks(facts("prod", model, spec)) if b.scenario == "restore-store")
    own = model.only("gcp:firestore/database:Database").get("name")
    check = next(step for step in book.steps if "get-iam-policy" in step.command)
    assert f'`/databases/{own}"` ||' in check.expected and f'/databases/{own}-restored"`' in check.expected
    switch = next(step for step in book.steps if step.command.startswith("pulumi config set"))
    assert "fails the preview" in switch.title and "misspelt" in switch.stop_if


def test_restore_rollback_drains_the_clone_until_every_instance_runs_the_new_template(docs_inputs):
    """Switching back in one update (`config rm itemsDatabase && pulumi up`) would take the clone out of the
    grant's condition while the group's rollout, which goes on after `pulumi up` returns, has not replaced
    the instances that use it. The rollback: (1) draining = clone, served key removed, up; (2) the forward
    path's wait; (3) draining removed, up; (4) delete the clone."""
    settings = project("gcp").module("settings").GcpSettings.model_fields
    served, draining = settings["items_database"].alias, settings["items_database_draining"].alias
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    book = next(b for b in runbooks(facts("prod", model, spec)) if b.scenario == "restore-store")
    first, wait, undrain, delete = book.rollback
    stack = "--stack prod --cwd pulumi/gcp"
    order = [
        first.command.index(f"RESTORED=$(pulumi config get {served} {stack})"),
        first.command.index(f'pulumi config set {draining} "$RESTORED" {stack}'),
        first.command.index(f"pulumi config rm {served} {stack}"),
        first.command.index(f"pulumi up {stack} --yes"),
    ]
    assert order == sorted(order)
    assert "`fleet-uses-items` unchanged" in first.expected
    switch = next(i for i, step in enumerate(book.steps) if f"pulumi config set {served} " in step.command)
    forward_wait = book.steps[switch + 1]
    assert (wait.command, wait.expected) == (forward_wait.command, forward_wait.expected)
    assert "--version-target-reached" in wait.command and draining in wait.stop_if
    assert undrain.command == f"pulumi config rm {draining} {stack} && pulumi up {stack} --yes"
    own = model.only("gcp:firestore/database:Database").get("name")
    assert (
        f"(`only-{own}`) names `{own}` only" in undrain.expected and "clone itself stays" in undrain.expected
    )
    assert "after step 3" in delete.title


def test_restore_switch_says_the_binding_is_replaced_as_the_stack_renders_it(docs_inputs):
    """The switch's text names the binding's condition as the stack renders it for a clone (title and
    expression, read from a preview with the setting), and says it is replaced, not extended."""
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    book = next(b for b in runbooks(facts("prod", model, spec)) if b.scenario == "restore-store")
    switch = next(step for step in book.steps if "pulumi config set itemsDatabase " in step.command)
    gcp, clone = project("gcp"), "the-clone"
    config = {**gcp.config("prod"), "refarch-gcp:itemsDatabase": clone}
    grant = gcp.preview("prod", config).named("fleet-uses-items")
    project_id = gcp.config("prod")["gcp:project"]
    title = grant.get("condition.title").replace(clone, "<clone>")
    expression = grant.get("condition.expression").replace(clone, "<clone>")
    assert f"`{title}`" in switch.title
    assert f"`{expression.replace(f'projects/{project_id}', '...')}`" in switch.title
    assert "replaces the fleet's conditioned binding" in switch.title and "extends" not in switch.title
    assert "`fleet-uses-items` replaced" in switch.expected
