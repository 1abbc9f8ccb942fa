"""GCP restore-store, the switch and the switch back: the switch checks the grant is deployed first, the
bindings read-back shows the fleet's role and members, the switch back refuses a previous clone that lost
its binding, the clone delete refuses the stack's own database, the steps say the store alert keeps the own
database, each permission line names the pulumi commands its runbook runs, and the architecture graph draws
the item role to the store (last GCP architect review). The rendered commands are run in bash against
stand-in `gcloud`, `pulumi` and `git` functions where the behaviour is what the shell does, and read where
it is what the text says. The stack side (the item role, the store alert) is guarded in
tests/gcp/test_gcp_item_role.py and tests/gcp/test_gcp_restored_store.py."""

from __future__ import annotations

import re

from refarch_pulumi.offline import project
from tests.docs.gcp.gcp_restore_store import (
    PREVIOUS,
    RESTORED,
    STACK,
    _book,
    _own,
    _run,
    _stack,
    _step,
    mutated,
)
from tools.docs.commands import simple_commands
from tools.docs.gcp import graph
from tools.docs.gcp.facts import facts
from tools.docs.gcp.inventory import CUSTOM_ROLE
from tools.docs.gcp.runbooks import DEPLOYING, runbooks

IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
NS = "refarch-gcp"


def _config_stub(settings: dict[str, str | None], iam: str = "") -> str:
    """Stand-ins: `pulumi config get <key>` prints `settings[key]`, or fails as for a key not set (None or
    absent); `gcloud projects get-iam-policy` runs `iam` (its lines, or a failure); the rest is logged."""
    cases = "".join(
        f'  "config get {key}") echo {value};;\n' for key, value in settings.items() if value is not None
    )
    return (
        'pulumi() { echo "pulumi $*" >>"$LOG"; case "$1 $2 $3" in\n'
        f"{cases}"
        '  "config get "*) echo "error: configuration key not found" >&2; return 255;;\n'
        "esac; }\n"
        'gcloud() { echo "gcloud $*" >>"$LOG"; case "$1 $2" in\n'
        f'  "projects get-iam-policy") {iam or ":"};;\n'
        "esac; }\n"
        'git() { echo "git $*" >>"$LOG"; }'
    )


def _lines(*lines: str) -> str:
    return "printf '%s\\n' " + " ".join(lines)


def _changes_settings(calls: str) -> bool:
    return any(verb in calls for verb in ("config set", "config rm", f"pulumi up {STACK}", "git commit"))


# Finding 1: Rollback step 2 served PREVIOUS again after step 10 had deleted PREVIOUS's binding (one update
# creating the binding and rolling out the template: refused until IAM propagates,
# https://cloud.google.com/iam/docs/access-change-propagation). With PREVIOUS a clone, the draining setting
# must still be PREVIOUS; with PREVIOUS empty the stack's own database is always granted.
def test_the_switch_back_refuses_a_previous_clone_that_lost_its_binding(docs_inputs, tmp_path):
    _, book = _book(docs_inputs)
    back = book.rollback[1]
    cases = [
        # (PREVIOUS, the draining setting now, switched back?)
        (PREVIOUS, PREVIOUS, True),  # after the switch, before step 10
        (PREVIOUS, None, False),  # step 10 ran: PREVIOUS is no longer granted
        (PREVIOUS, "prod-items-restored-3", False),  # another database drains
        ("", None, True),  # PREVIOUS empty: the own database keeps its grant
    ]
    for previous, draining, switched in cases:
        (tmp_path / "calls.log").write_text("")
        stub = _config_stub({"itemsDatabase": RESTORED, "itemsDatabaseDraining": draining})
        out, calls = _run(tmp_path, stub, back.command, RESTORED=RESTORED, PREVIOUS=previous)
        assert _changes_settings(calls) is switched, (previous, draining, calls)
        assert ("STOP" in out) is not switched, (previous, draining, out)
        if switched:
            served = f"config set itemsDatabase {previous}" if previous else "config rm itemsDatabase"
            assert served in calls and f"config set itemsDatabaseDraining {RESTORED}" in calls
    assert "not $PREVIOUS: nothing changed" in back.stop_if and "`RESTORED=$PREVIOUS`" in back.stop_if
    assert "step 5" in back.stop_if.split("not $PREVIOUS")[1].split(". ")[0]


# Finding 3: the switch set itemsDatabase=$RESTORED without checking step 5's grant was deployed. It now
# needs the draining setting to be RESTORED and IAM to hold the fleet's `only-$RESTORED` binding (one exact
# line: a longer name's binding is not this one's), with the Names block's `set -o pipefail` (a failed
# gcloud fails the check).
def test_the_switch_checks_the_grant_is_deployed_first(docs_inputs, tmp_path):
    model, book = _book(docs_inputs)
    switch = _step(book.steps, 'pulumi config set itemsDatabase "$RESTORED"')
    own = f"only-{_own(model)}"
    cases = [
        # (the draining setting, what IAM lists of the fleet's bindings, switched?)
        (RESTORED, _lines(own, f"only-{RESTORED}"), True),
        (RESTORED, _lines(own), False),  # the setting set, its `pulumi up` not run (or failed)
        (None, _lines(own, f"only-{RESTORED}"), False),  # step 5 not run
        (PREVIOUS, _lines(own, f"only-{PREVIOUS}"), False),  # another restore's grant
        (RESTORED, _lines(own, f"only-{RESTORED}-2"), False),  # a longer name's binding only
        (RESTORED, 'echo "ERROR: (gcloud) PERMISSION_DENIED" >&2; return 1', False),
    ]
    for draining, iam, switched in cases:
        (tmp_path / "calls.log").write_text("")
        stub = _config_stub({"itemsDatabaseDraining": draining}, iam)
        out, calls = _run(
            tmp_path, stub, f"set -o pipefail\n{switch.command}", RESTORED=RESTORED, PREVIOUS="", PROJECT="p"
        )
        assert _changes_settings(calls) is switched, (draining, iam, calls)
        assert ("STOP" in out) is not switched, (draining, iam, out)
    assert "grant is not deployed" in switch.stop_if and "rerun only its `pulumi up`" in switch.stop_if


# Finding 5: the clone delete's guard let the stack's own database through while a clone was served.
def test_the_clone_delete_refuses_the_stacks_own_database(docs_inputs, tmp_path):
    model, book = _book(docs_inputs)
    delete = _step(book.rollback, "databases delete")
    own = _own(model)
    for target, deleted in ((own, False), (PREVIOUS, True)):
        (tmp_path / "calls.log").write_text("")
        out, calls = _run(tmp_path, _stack(RESTORED, None), delete.command, RESTORED=target, PROJECT="p")
        assert ("gcloud firestore databases" in calls) is deleted, target
        assert ("STOP" in out) is not deleted, target
    assert f"stack's own database `{own}`" in delete.stop_if and f"`{own}`" in delete.title


def _filter(command: str) -> tuple[re.Pattern, re.Pattern]:
    """The role and member patterns of a rendered `get-iam-policy` filter, `$PROJECT` set to `project`."""
    [text] = re.findall(r'--filter="([^"]*)"', command)
    match = re.fullmatch(r"bindings\.role~'(.*)' AND bindings\.members~'(.*)'", text.replace("\\$", "$"))
    assert match, f"not the fleet's role and member: {text}"
    return match.group(1), match.group(2)


# Finding 6 (and 4): the readback filtered on roles/datastore.user and a title prefix, without members. It
# now flattens to members and keeps the fleet's item role (a custom role since finding 4) and the fleet's
# service account only, both anchored, and prints each line's member.
def test_the_bindings_readback_is_the_fleets_role_and_member_with_members_shown(docs_inputs):
    _, book = _book(docs_inputs)
    gcp = project("gcp")
    config = gcp.config("prod")
    granted = gcp.preview("prod", {**config, f"{NS}:itemsDatabaseDraining": RESTORED})
    grants = [g for g in granted.of_type(IAM_MEMBER) if g.get("condition", None) is not None]
    assert len(grants) == 2
    project_id = config["gcp:project"]
    checks = [step for step in book.steps if "get-iam-policy" in step.command]
    assert len(checks) == 3
    for check in checks:
        assert '--flatten="bindings[].members"' in check.command
        role, member = (p.replace("$PROJECT", project_id) for p in _filter(check.command))
        for grant in grants:
            assert re.search(role, grant.get("role")) and re.search(member, grant.get("member")), grant.name
        assert not re.search(role, "roles/datastore.user")
        assert not re.search(role, grants[0].get("role") + "Admin")
        other = grants[0].get("member").replace("fleet@", "fleet-old@")
        assert not re.search(member, other) and not re.search(member, "x" + grants[0].get("member"))
    readbacks = [c for c in checks if "grep" not in c.command]
    member = grants[0].get("member").replace(project_id, "$PROJECT")
    for readback in readbacks:
        assert '--format="value(bindings.members,' in readback.command
        assert f"each beginning `{member}`" in readback.expected


def _watched(inventory) -> list[str]:
    """The database IDs the store alert's filter names, in its order."""
    text = inventory.named("store-errors").get("conditions.0.conditionThreshold.filter")
    [ids] = re.findall(r"resource\.label\.database_id = (one_of\([^)]*\)|\"[^\"]*\")", text)
    return re.findall(r'"([^"]+)"', ids)


def _alert_clause(text: str) -> str:
    [clause] = re.findall(r"`store-errors` updated \(([^)]*)\)", text)
    return clause


# Finding 2: the store alert watches the stack's own database whenever a clone is served (instances not yet
# replaced by the switch still call it): the steps whose update changes the alert say so, as the previews of
# the settings after each step render it.
def test_the_steps_say_the_store_alert_keeps_the_own_database(docs_inputs):
    model, book = _book(docs_inputs)
    own = _own(model)
    gcp = project("gcp")
    config = gcp.config("prod")

    def watched(**settings: str) -> list[str]:
        return _watched(gcp.preview("prod", {**config, **{f"{NS}:{k}": v for k, v in settings.items()}}))

    switch = _step(book.steps, 'pulumi config set itemsDatabase "$RESTORED"')
    drop = _step(book.steps, 'stop granting the fleet $PREVIOUS"')
    undrain = _step(book.rollback, 'stop granting the fleet $RESTORED"')
    # After the switch: the clone first, PREVIOUS while it drains, the own database.
    assert watched(itemsDatabase=RESTORED) == [RESTORED, own]
    assert watched(itemsDatabase=RESTORED, itemsDatabaseDraining=PREVIOUS) == [RESTORED, PREVIOUS, own]
    assert _alert_clause(switch.expected) == f"the clone first, then PREVIOUS if set and `{own}`"
    assert f"keeps watching `{own}`" in switch.title
    # After step 10: PREVIOUS gone, the clone and the own database stay.
    assert f"it watches the clone and `{own}`" in _alert_clause(drop.expected)
    # After Rollback step 4: the clone gone; the own database (first when served) and PREVIOUS if a clone.
    assert watched() == [own] and watched(itemsDatabase=PREVIOUS) == [PREVIOUS, own]
    assert f"it watches `{own}` and, with PREVIOUS a clone, PREVIOUS" in _alert_clause(undrain.expected)


# Finding 7: roll-back-release's permission line cited `pulumi config set`/`rm`, which it never runs: each
# runbook's line names the Pulumi commands it runs, and only those.
def test_each_permission_line_names_the_pulumi_commands_its_runbook_runs(docs_inputs):
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    books = runbooks(facts("prod", model, spec))
    for book in books:
        ran = {
            " ".join(argv[: 3 if argv[1] in ("config", "stack") else 2])
            for command in book.commands()
            for argv in simple_commands(command)
            if argv[0] == "pulumi"
        }
        [line] = [line for line in book.permissions.splitlines() if "Pulumi stack's state backend" in line]
        cited = set(re.findall(r"`(pulumi [a-z ]+)`", line))
        deploying = ran & set(DEPLOYING)
        assert cited == (deploying or ran), (book.scenario, cited, ran)
        assert "`/`" not in line, book.scenario
    rollback = next(b for b in books if b.scenario == "roll-back-release")
    assert "`pulumi preview` and `pulumi up`" in rollback.permissions
    assert "config set" not in rollback.permissions


# Finding 4's custom role, in the architecture graph: the fleet's item grant is drawn to the store (it was
# drawn to the alert policies once its role was no longer a `roles/datastore.*` one).
def test_the_architecture_graph_draws_the_item_role_to_the_store(docs_inputs):
    model = docs_inputs.models["gcp"]["prod"]
    role = model.only(CUSTOM_ROLE)
    name = f"projects/{role.get('project')}/roles/{role.get('roleId')}"
    edges = [e for e in graph.build(model).edges if e.label.startswith(name)]
    assert edges and all((e.source, e.target, e.kind) == ("fleet", "store", "role grant") for e in edges)
    # A custom role with another service's permission is not the store's.
    other = mutated(
        model, CUSTOM_ROLE, "permissions", [*role.get("permissions"), "logging.logEntries.create"]
    )
    assert all(e.target != "store" for e in graph.build(other).edges if e.label.startswith(name))
