"""Restoring the item table to a point in time, switching the fleet to it, retiring the old one."""

from __future__ import annotations

from stacks.item_store import SERVING_TABLE_CONTEXT
from tools.docs.aws import steps as c
from tools.docs.aws.runbooks.common import assemble, in_service_count, refresh_duration, waiter_bound
from tools.docs.model import Duration, Runbook, StackFacts, Step


def restore_store(facts: StackFacts) -> Runbook:
    details = facts.details
    key, ttl = details["partition_key"], details["ttl_attribute"]
    context = f"{SERVING_TABLE_CONTEXT}.{facts.environment}"
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
                title="The restore window",
                command=(
                    'aws dynamodb describe-continuous-backups --table-name "$TABLE" \\\n'
                    '  --query "ContinuousBackupsDescription.PointInTimeRecoveryDescription.'
                    '[PointInTimeRecoveryStatus,EarliestRestorableDateTime,LatestRestorableDateTime]" \\\n'
                    "  --output text"
                ),
                expected="`ENABLED` and the earliest and latest restorable times.",
                stop_if="`DISABLED`: there is nothing to restore from.",
            ),
            Step(
                title="Choose the moment to restore (UTC, inside the window, just before the damage) and the "
                "new table's name",
                command="RESTORE_TO=2026-01-01T03:00:00Z  # replace with the moment before the damage\n"
                'RESTORED="$TABLE-restored"',
            ),
            Step(
                title="Restore into a new table (the source keeps serving meanwhile)",
                command=(
                    'aws dynamodb restore-table-to-point-in-time --source-table-name "$TABLE" \\\n'
                    '  --target-table-name "$RESTORED" --restore-date-time "$RESTORE_TO"'
                ),
                expected="the new table's description, `TableStatus` `CREATING`.",
                stop_if="`TableAlreadyExistsException`: choose another name for RESTORED; "
                "`InvalidRestoreTimeException`: the moment is outside the window.",
            ),
            Step(
                title="Wait until it is active (repeat until it returns: large tables take longer)",
                command='aws dynamodb wait table-exists --table-name "$RESTORED"',
                expected=f"returns without output (it polls every {delay} s, at most {attempts} times).",
            ),
            Step(
                title="Give it what a restore does not copy: time to live, point-in-time recovery"
                + (", deletion protection" if details["deletion_protection"] else ""),
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
                ),
                expected="each prints the setting as now enabled.",
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
                stop_if="the item is not as it was: restore again to another moment (new name) before "
                "switching.",
            ),
            Step(
                title="Switch the fleet to the restored table. This is a stack change: the table's name "
                "reaches the instances through the launch template's user data (ITEMS_TABLE in "
                "/etc/sample-service.env) "
                "and their role may use only that table; the deploy grants the new one, rewrites ITEMS_TABLE "
                "and replaces every instance through the stack's instance refresh",
                command=f'cdk deploy {facts.stack} -c region={facts.region} -c {context}="$RESTORED"',
                expected="`UPDATE_COMPLETE` after the instance refresh.",
                stop_if="`UPDATE_ROLLBACK_IN_PROGRESS`: a rollout alarm fired on the new table; the fleet "
                "stays on the old one; escalate.",
            ),
            Step(
                title="The fleet now uses the restored table",
                command=f"{facts.output('ItemsTableName').lookup}",
                expected="the restored table's name.",
            ),
            Step(
                title="Retire the old table: keep it, untouched, as the evidence of what went wrong, with an "
                "on-demand backup. It stays the stack's resource (its deletion policy keeps it); only a code "
                "change removes it from the stack. Keep passing the same -c to every later deploy of this "
                "environment (or put it in cdk.json's context) until then",
                command='aws dynamodb create-backup --table-name "$TABLE" --backup-name '
                '"$TABLE-before-restore"',
                expected="`BackupStatus` `CREATING`.",
            ),
        )
    return assemble(
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
                name="the restore itself",
                formula="DynamoDB's, growing with the table's size: not in the stack; "
                f"the CLI waiter polls every {delay} s up to {attempts} times per call",
                seconds=delay * attempts,
            ),
            refresh,
        ),
        preconditions=(
            "AWS CLI v2 configured for the stack's account, `jq` and `curl`.",
            "A checkout of this repository at the deployed release with `make setup` done (for `cdk "
            "deploy`).",
            "The permissions below, and those `cdk deploy` needs (its bootstrap roles).",
            f"Point-in-time recovery: {facts.store_backup}.",
        ),
        lookups=c.lookups(facts, "ItemsTableName", "AutoScalingGroupName"),
        steps=steps,
        rollback=(
            Step(
                title="Put the fleet back on the stack's own table: deploy without the override",
                command=f"cdk deploy {facts.stack} -c region={facts.region}",
                expected="`UPDATE_COMPLETE`; the ItemsTableName output is the original table again.",
            ),
        ),
        expected_targets=in_service_count(facts),
    )
