"""Restoring the item table to a point in time, switching the fleet to it, retiring the old one."""

from __future__ import annotations

import dataclasses
import json
import re

from stacks.item_store import DRAINING_TABLE_CONTEXT, SERVING_TABLE_CONTEXT
from tools.docs.aws import steps as c
from tools.docs.aws.iam import (
    DATA_KEY_OUTPUT,
    RESTORED_SUFFIX,
    RESTORED_TABLE,
    TOPIC_KEY_OUTPUT,
    filled_policy_command,
)
from tools.docs.aws.runbooks.common import assemble, in_service_count, refresh_duration, waiter_bound
from tools.docs.model import Duration, Runbook, StackFacts, Step

# What must match between the stack's table and the restored one before the fleet switches to it.
READY_QUERY = (
    "Table.[TableStatus,SSEDescription.SSEType,SSEDescription.KMSMasterKeyArn,DeletionProtectionEnabled]"
)


def _minutes(seconds: float) -> str:
    return f"{round(seconds / 60)} min"


def _edit(jq_arguments: str) -> str:
    """A cdk.json edit that leaves cdk.json as it was if jq fails (jq writes a new file; only its success
    replaces the old one), then shows what changed."""
    replace = "mv cdk.json.new cdk.json && git diff --stat cdk.json"
    return f"jq {jq_arguments} cdk.json > cdk.json.new && {replace}"


def _sse_override(details: dict) -> str:
    key = ",KMSMasterKeyId=$DATA_KEY_ARN" if details["data_key"] else ""
    return f"`--sse-specification-override Enabled=true,SSEType=KMS{key}`"


def _sse_update(details: dict) -> str:
    key = ",KMSMasterKeyId=$DATA_KEY_ARN" if details["data_key"] else ""
    return (
        f'`aws dynamodb update-table --table-name "$RESTORED" --sse-specification '
        f"Enabled=true,SSEType=KMS{key}`"
    )


# A new name each run, in the one form the policy's writes allow once filled in: the run's minute keeps a
# second restore (another moment, another key) from colliding with the first.
NEW_NAME = f'RESTORED="$TABLE-$(date -u +%Y%m%d%H%M){RESTORED_SUFFIX}"'
NAME_STEP = 1
# What a restore records on the table it created (RestoreSummary in botocore's DynamoDB model:
# SourceTableArn, RestoreDateTime, RestoreInProgress): it says whether an existing RESTORED is this run's.
RESTORE_SUMMARY = "Table.RestoreSummary.[SourceTableArn,RestoreDateTime,RestoreInProgress]"


# Step 1 prints two policies. The writes on this run's table (every statement naming RESTORED_TABLE) are
# removed once step WRITES_END has checked the table (nothing later writes it, and from the switch on it is
# the table the fleet serves); the rest stays until Verification and any Escalation are over, which read the
# stack and page through its topic with it. Attached as customer managed policies (or a role's inline
# policy): the whole exceeds an IAM user's inline limit, 2,048 characters ("IAM and AWS STS quotas").
WRITES_END = 7
# The switch, after the removal step that follows WRITES_END.
SWITCH = WRITES_END + 2
POLICIES = ("restore-store-{environment}-restored-table-writes", "restore-store-{environment}-procedure")
PRINCIPAL = "aws sts get-caller-identity --query Arn --output text"


def split_policy(document: str) -> tuple[str, str]:
    """The restored table's writes and the rest of `document`, as two policy documents."""
    parsed = json.loads(document)
    writes = [s for s in parsed["Statement"] if RESTORED_TABLE in json.dumps(s)]
    rest = [s for s in parsed["Statement"] if s not in writes]
    return tuple(json.dumps({**parsed, "Statement": part}, indent=2) for part in (writes, rest))


def _removal(name: str, why: str) -> Step:
    """Having one of step 1's policies removed: the principal it was attached to, then whoever attached it
    detaches and deletes it."""
    arn = f"arn:aws:iam::<account>:policy/{name}"
    return Step(
        title=f"Have the policy `{name}` (step {NAME_STEP}) removed from your identity: {why}",
        command=PRINCIPAL,
        expected="your identity's ARN, `arn:aws:sts::<account>:assumed-role/<role>/<session>` (or "
        "`arn:aws:iam::<account>:user/<user>`). Whoever attached the policy detaches it from that role "
        f"(or user) and deletes it: `aws iam detach-role-policy --role-name <role> --policy-arn {arn}` "
        f"(`aws iam detach-user-policy --user-name <user> --policy-arn {arn}`), then "
        f"`aws iam delete-policy --policy-arn {arn}`; each prints nothing.",
        stop_if="`NoSuchEntity`: it was not attached there (or already deleted): check with them "
        f"where it is (`aws iam list-entities-for-policy --policy-arn {arn}`).",
    )


def _with_policy(runbook: Runbook) -> Runbook:
    """Step NAME_STEP prints the runbook's own policy filled in for this run, in two (split_policy): the
    restored table's exact name and the stack outputs the names block looked up. The first is removed
    after step WRITES_END, the second after Verification."""
    fills = {re.escape(RESTORED_TABLE): "RESTORED"}
    for lookup in runbook.lookups:
        output = next((name for name, variable in c.VARIABLES.items() if variable == lookup.variable), None)
        if output and f"<the stack's {output} output" in runbook.permissions:
            fills[rf"<the stack's {output} output[^>]*>"] = lookup.variable
    names = [name.format(environment=runbook.environment) for name in POLICIES]
    printed = [
        f'echo "{name}:"\n{filled_policy_command(document, fills)}'
        for name, document in zip(names, split_policy(runbook.permissions), strict=True)
    ]
    steps = list(runbook.steps)
    step = steps[NAME_STEP - 1]
    steps[NAME_STEP - 1] = dataclasses.replace(step, command="\n".join([step.command, *printed]))
    steps.insert(
        WRITES_END,
        _removal(
            names[0],
            f"nothing after step {WRITES_END} writes $RESTORED, and from the next step on it is the table "
            "the fleet serves: the policy lets its holder delete its items, or turn its recovery and "
            "protection off",
        ),
    )
    last = _removal(
        names[1],
        "last, once this verification has passed and any rollback and escalation is over (they read the "
        "stack and page through its alarm topic with it)",
    )
    return dataclasses.replace(runbook, steps=tuple(steps), verification=(*runbook.verification, last))


def restore_store(facts: StackFacts) -> Runbook:
    details = facts.details
    key, ttl = details["partition_key"], details["ttl_attribute"]
    context = f"{SERVING_TABLE_CONTEXT}.{facts.environment}"
    draining = f"{DRAINING_TABLE_CONTEXT}.{facts.environment}"
    tags = " ".join(f"Key={name},Value={value}" for name, value in details["table_tags"])
    tag_text = ", ".join(f"`{name}={value}`" for name, value in details["table_tags"])
    encryption = (
        "`KMS` and the stack's key's ARN (the same on both lines)"
        if details["data_key"]
        else "`KMS` and the ARN of DynamoDB's AWS managed key (`alias/aws/dynamodb`), the same on both lines"
    )
    delay, attempts = waiter_bound("dynamodb", "TableExists")
    refresh = refresh_duration(facts)
    if not facts.store_pitr:
        steps = (
            Step(
                title="Point-in-time recovery is off for this table (the spec's "
                "store.point_in_time_recovery): "
                "there is no earlier state to restore. Restore from an on-demand backup if one exists",
                command='aws dynamodb list-backups --table-name "$TABLE" --query '
                '"BackupSummaries[].[BackupName,BackupCreationDateTime]" --output text',
                expected="the table's on-demand backups, if any.",
            ),
        )
    else:
        steps = (
            Step(
                title="Name this run's new table and print the permissions of this procedure for it, every "
                "name filled in, as two policies; have each attached to your identity now as a customer "
                "managed policy of the printed name (or a role's inline policy), for this procedure only: "
                f"the first is removed after step {WRITES_END}, the second after Verification",
                command=f'{NEW_NAME}\necho "RESTORED=$RESTORED"',
                expected="`RESTORED=` and the new table's name, then each policy's name and the policy, "
                "with no `<...>` left. Write "
                "the name down: after a lost shell set `RESTORED=` to it (do not run the first line again: "
                "a new name is not in the attached policy) and `RESTORE_TO=` to the same moment.",
                stop_if="`parameter null or not set`, or `a placeholder is left unfilled`: the policy it "
                "stands for was not printed; run the names block again (in this shell) and this step.",
            ),
            Step(
                title="The restore window; choose the moment to restore (UTC, inside the window, just before "
                "the damage)",
                command=(
                    'aws dynamodb describe-continuous-backups --table-name "$TABLE" \\\n'
                    '  --query "ContinuousBackupsDescription.PointInTimeRecoveryDescription.'
                    '[PointInTimeRecoveryStatus,EarliestRestorableDateTime,LatestRestorableDateTime]" \\\n'
                    "  --output text\n"
                    "RESTORE_TO=2026-01-01T03:00:00Z  # replace with the moment before the damage"
                ),
                expected="`ENABLED` and the earliest and latest restorable times.",
                stop_if="`DISABLED`: there is nothing to restore from.",
            ),
            Step(
                title="Restore into a new table (the source keeps serving meanwhile)",
                command=(
                    'aws dynamodb restore-table-to-point-in-time --source-table-name "$TABLE" \\\n'
                    '  --target-table-name "$RESTORED" --restore-date-time "$RESTORE_TO"'
                ),
                expected="the new table's description, `TableStatus` `CREATING`.",
                stop_if="`TableAlreadyExistsException` or `TableInUseException` (the restore is still "
                "running: `A target table with the specified name is either being created or deleted`): "
                "after a lost shell it is usually this run's own table; "
                f'`TZ=UTC aws dynamodb describe-table --table-name "$RESTORED" --query "{RESTORE_SUMMARY}" '
                "--output text` prints the ARN of `$TABLE`, the moment of `$RESTORE_TO` (UTC, written "
                "`+00:00`) and `True` or `False`: it is, go "
                f"on at step 4; anything else: another table has the name, start again at step {NAME_STEP} "
                "(a new name, its policies attached in place of these). `InvalidRestoreTimeException`: the "
                "moment is outside the window.",
            ),
            Step(
                title="Wait until it is active (repeat until it returns: large tables take longer)",
                command='aws dynamodb wait table-exists --table-name "$RESTORED"',
                expected=f"returns without output (it polls every {delay} s, at most {attempts} times).",
            ),
            Step(
                title="Give it what a restore does not copy: time to live, point-in-time recovery"
                + (", deletion protection" if details["deletion_protection"] else "")
                + ", the stack's tags",
                command=(
                    f'aws dynamodb update-time-to-live --table-name "$RESTORED" '
                    f"--time-to-live-specification Enabled=true,AttributeName={ttl}\n"
                    'aws dynamodb update-continuous-backups --table-name "$RESTORED" '
                    "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
                    + (
                        '\naws dynamodb update-table --table-name "$RESTORED" --deletion-protection-enabled'
                        if details["deletion_protection"]
                        else ""
                    )
                    + '\nRESTORED_ARN=$(aws dynamodb describe-table --table-name "$RESTORED" '
                    "--query Table.TableArn --output text)\n"
                    f'aws dynamodb tag-resource --resource-arn "$RESTORED_ARN" --tags {tags}'
                ),
                expected="each update prints the setting as now enabled; tag-resource prints nothing.",
            ),
            Step(
                title="Verify the restored data: an item you know was right at that moment",
                command=(
                    'aws dynamodb get-item --table-name "$RESTORED" --key '
                    f'\'{{"{key}": {{"S": "synthetic-check"}}}}\'\n'
                    'aws dynamodb describe-table --table-name "$RESTORED" --query '
                    '"Table.[TableStatus,TableSizeBytes,ItemCount]" --output text'
                ),
                expected="the item as it was (the synthetic check's item is written every few minutes; use "
                "one of "
                "yours that the damage changed); `ACTIVE` and a size like the source's (the counts are "
                "refreshed about every six hours).",
                stop_if=f"the item is not as it was: restore again to another moment before switching: step "
                f"{NAME_STEP} (a new name of the same form, its policies attached in place of these), then "
                "steps 2 and 3.",
            ),
            Step(
                title="Check the restored table is ready to serve like the stack's own: active, the same "
                "encryption key, the same deletion protection and tags",
                command=(
                    f'aws dynamodb describe-table --table-name "$TABLE" --query "{READY_QUERY}" '
                    "--output text\n"
                    f'aws dynamodb describe-table --table-name "$RESTORED" --query "{READY_QUERY}" '
                    "--output text\n"
                    'aws dynamodb list-tags-of-resource --resource-arn "$RESTORED_ARN" --output text'
                ),
                expected=f"two identical lines: `ACTIVE`, {encryption}, deletion protection "
                f"`{details['deletion_protection']}`; then the tags {tag_text}.",
                stop_if="the lines differ: a table that is not `ACTIVE` is not ready (wait, step 4). A "
                "missing tag or protection: redo step 5 before switching. Another key: restore again "
                f"(step {NAME_STEP}: a new name of the same form, its policies attached in place of these; "
                "then step 3) adding "
                f"{_sse_override(details)}, or re-encrypt this table: {_sse_update(details)}.",
            ),
            Step(
                title="Switch the fleet to the restored table. This is a stack change, made in cdk.json "
                "before the deploy so that the deploy and every later one read the same switch: the table's "
                "name reaches the instances through the launch template's user data (ITEMS_TABLE in "
                "/etc/sample-service.env). The deploy grants the restored table and keeps the grant on the "
                "stack's own table (the instances the refresh has not replaced yet, or puts back, still use "
                "it), rewrites ITEMS_TABLE and replaces every instance through the stack's instance refresh",
                command=(
                    _edit(f'--arg table "$RESTORED" \'.context["{context}"] = $table\'')
                    + f"\ncdk deploy {facts.stack} -c region={facts.region}"
                ),
                expected=f'`git diff` shows `"{context}"` added to cdk.json; then `UPDATE_COMPLETE` after '
                f"the instance refresh (about {_minutes(refresh.seconds)}).",
                stop_if="the jq line fails: cdk.json is unchanged (the edit is written to cdk.json.new "
                "first); fix the command and run the step again. `UPDATE_ROLLBACK_IN_PROGRESS`: a rollout "
                "alarm fired during the refresh; CloudFormation rolls the group back to the previous launch "
                "template (ITEMS_TABLE the stack's own table) before it puts the previous grants back, so "
                "the old and new instances keep their table throughout; the fleet stays on the old table: "
                "undo the edit (`git checkout cdk.json`) and escalate.",
            ),
            Step(
                title="The fleet now uses the restored table",
                command=f"{facts.output('ItemsTableName').lookup}",
                expected="the restored table's name.",
            ),
            Step(
                title="Commit the switch, push it and merge it (through the repository's usual review) now, "
                "so that whatever deploys this environment (a pipeline, a colleague's checkout) has it: a "
                "deploy from a cdk.json without it switches the fleet back and drops the restored table's "
                "grant before the instances are replaced, and every instance then fails with AccessDenied "
                "until a refresh",
                command=f'git commit -m "{facts.environment}: serve the restored table $RESTORED" cdk.json '
                "&& git push",
                expected=f'the commit, pushed; `git show` has `"{context}": "<restored table>"` in '
                "cdk.json. Merge it before anything else deploys this environment.",
            ),
            Step(
                title="Retire the old table: keep it, untouched, as the evidence of what went wrong, with an "
                "on-demand backup. It stays the stack's resource (its deletion policy keeps it) and the "
                "fleet stays granted it while the override is set. A later change may drop that grant, or "
                f"the table, only once the switch's instance refresh has completed (step {SWITCH} returned "
                "`UPDATE_COMPLETE`): until then instances still use it",
                command='aws dynamodb create-backup --table-name "$TABLE" --backup-name '
                '"$TABLE-before-restore"',
                expected="`BackupStatus` `CREATING`.",
            ),
        )
    runbook = assemble(
        facts,
        "restore-store",
        purpose="Bring the item store back to a moment before bad writes or deletes, in a new table, then "
        "move the fleet to it.",
        when=(
            "Items were corrupted or deleted by a faulty release, a bad script or a person.",
            "Not for a DynamoDB outage: DynamoDB replicates across the region's zones; wait for it.",
        ),
        blast_radius="Every item written after the restore moment is not in the restored table (the data "
        "loss is the time between the moment and the switch). Sessions and files are unaffected. The switch "
        "replaces every instance like a release.",
        capacity=(
            "Restoring does not touch the fleet. The switch is an instance refresh: capacity never falls "
            f"below {facts.minimum_healthy} of {facts.min_size} during this procedure.",
        ),
        durations=(
            Duration(
                name="the waiter's limit: one `aws dynamodb wait table-exists` gives up after (not the "
                "restore's duration, which grows with the table's size and is not in the stack: repeat the "
                "wait until it returns)",
                formula=f"polls every {delay} s x {attempts} attempts = {delay * attempts} s",
                seconds=delay * attempts,
            ),
            refresh,
        ),
        preconditions=(
            "AWS CLI v2 configured for the stack's account, `jq` and `curl`.",
            "A checkout of this repository at the deployed release with `make setup` done (for `cdk "
            "deploy`).",
            f"The permissions below, filled in for this run by step {NAME_STEP} (which prints them) and "
            "attached to your identity for this procedure only, as two customer managed policies (or a "
            "role's inline policy: together they exceed an IAM user's inline limit): they name the table "
            f"this run creates; step {WRITES_END + 1} has the first removed, the last Verification step the "
            "second. Also those `cdk deploy` needs (its bootstrap roles).",
            f"Point-in-time recovery: {facts.store_backup}.",
        ),
        lookups=c.lookups(
            facts,
            "ItemsTableName",
            "AutoScalingGroupName",
            *((DATA_KEY_OUTPUT,) if details["data_key"] else ()),
            *((TOPIC_KEY_OUTPUT,) if details["topic_key"] else ()),
        ),
        steps=steps,
        rollback=(
            Step(
                title="Put the fleet back on the stack's own table: in cdk.json, drop the override and name "
                "the restored table as draining (still granted: the instances not yet replaced keep using it "
                "during the refresh), deploy, then commit, push and merge it like the switch",
                command=(
                    _edit(
                        f'--arg table "$RESTORED" \'del(.context["{context}"]) '
                        f'| .context["{draining}"] = $table\''
                    )
                    + f"\ncdk deploy {facts.stack} -c region={facts.region}\n"
                    f'git commit -m "{facts.environment}: serve the stack\'s own table, drain $RESTORED" '
                    "cdk.json && git push"
                ),
                expected="`git diff` shows the override replaced by the draining entry; `UPDATE_COMPLETE` "
                "after the instance refresh; the ItemsTableName output is the stack's own table again; the "
                "commit, pushed.",
                stop_if="`UPDATE_ROLLBACK_IN_PROGRESS`: the fleet stays on the restored table, both still "
                "granted: undo the edit (`git checkout cdk.json`) and escalate.",
            ),
            Step(
                title="Only once that refresh has completed: drop the draining entry, so the restored "
                "table's grant goes; deploy, commit and push",
                command=(
                    _edit(f"'del(.context[\"{draining}\"])'")
                    + f"\ncdk deploy {facts.stack} -c region={facts.region}\n"
                    f'git commit -m "{facts.environment}: stop granting $RESTORED" cdk.json && git push'
                ),
                expected="`UPDATE_COMPLETE` (no instance is replaced: the launch template does not change); "
                "the commit, pushed.",
                stop_if="`UPDATE_ROLLBACK_IN_PROGRESS`: undo the edit (`git checkout cdk.json`) and "
                "escalate.",
            ),
        ),
        expected_targets=in_service_count(facts),
    )
    return _with_policy(runbook) if facts.store_pitr else runbook
