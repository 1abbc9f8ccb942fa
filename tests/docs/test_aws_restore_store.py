"""The AWS restore-store runbook against the stack it restores: the table key in its policy, the tags a
restore does not copy, the check before the switch, the switch recorded in cdk.json, and a switch, rollback
and retirement that keep every instance's table granted while a refresh replaces the fleet."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from stacks.app_builder import CDK_JSON
from stacks.item_store import DRAINING_TABLE_CONTEXT, SERVING_TABLE_CONTEXT
from tools.docs.aws.iam import policy
from tools.docs.aws.runbooks.common import waiter_bound
from tools.docs.aws.runbooks.store import READY_QUERY
from tools.docs.aws.template import Template
from tools.docs.commands import simple_commands

# What a principal using a DynamoDB table encrypted with a customer managed key needs of that key, through
# DynamoDB only ("How Amazon DynamoDB uses AWS KMS", Authorizing use of your KMS key:
# https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html#dynamodb-authz). A restore
# writes the new table with the caller's permissions; get-item reads through the key too.
KEY_ACTIONS = {
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
    "kms:DescribeKey",
    "kms:CreateGrant",
}


def _restores(generated, docs_inputs):
    found = [
        (stack.facts, next(r for r in stack.runbooks if r.scenario == "restore-store"))
        for stack in generated
        if stack.facts.cloud == "aws" and stack.facts.store_pitr
    ]
    assert found, "no AWS environment with point-in-time recovery: nothing checked"
    for facts, runbook in found:
        template = Template(facts.environment, docs_inputs.models["aws"][facts.environment])
        yield facts, runbook, template.only("AWS::DynamoDB::Table")[1]


def _steps(runbook) -> list[str]:
    return [step.command for step in runbook.steps]


def _index(runbook, needle: str) -> int:
    (index,) = [number for number, command in enumerate(_steps(runbook)) if needle in command]
    return index


def test_the_policy_grants_the_stack_s_table_key_through_dynamodb_only(generated, docs_inputs):
    keyed = 0
    for facts, runbook, table in _restores(generated, docs_inputs):
        sse = table.get("SSESpecification", {})
        key = sse["KMSMasterKeyId"]["Fn::GetAtt"][0] if sse.get("SSEType") == "KMS" else None
        statements = json.loads(runbook.permissions)["Statement"]
        on_keys = [s for s in statements if any(a.startswith("kms:") for a in s["Action"])]
        if key is None:
            assert on_keys == [], facts.environment
            continue
        keyed += 1
        (statement,) = on_keys
        assert set(statement["Action"]) == KEY_ACTIONS
        assert statement["Resource"].startswith(f"arn:aws:kms:{facts.region}:")
        assert key in statement["Resource"]
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": f"dynamodb.{facts.region}.amazonaws.com"}
        }
    # The spec asks production for a customer managed key: at least that environment is checked.
    assert keyed >= sum(spec.encryption.customer_managed_keys for spec in docs_inputs.specs.values())
    assert keyed


def test_the_key_is_granted_only_to_commands_that_touch_items():
    reads_table = ['aws dynamodb describe-table --table-name "$T"']
    writes_items = ['aws dynamodb get-item --table-name "$T" --key \'{"pk": {"S": "x"}}\'']
    bare = json.loads(policy(reads_table, stack="S", region="eu-west-1", data_key="Key1"))
    items = json.loads(policy(writes_items, stack="S", region="eu-west-1", data_key="Key1"))
    assert not any("kms:Decrypt" in s["Action"] for s in bare["Statement"])
    assert any("kms:Decrypt" in s["Action"] for s in items["Statement"])


def test_the_restored_table_gets_the_stack_s_tags(generated, docs_inputs):
    for facts, runbook, table in _restores(generated, docs_inputs):
        (tagging,) = [
            argv for command in _steps(runbook) for argv in simple_commands(command) if "tag-resource" in argv
        ]
        tags = tagging[tagging.index("--tags") + 1 :]
        assert tags == [f"Key={tag['Key']},Value={tag['Value']}" for tag in table["Tags"]]
        allowed = {a for s in json.loads(runbook.permissions)["Statement"] for a in s["Action"]}
        assert "dynamodb:TagResource" in allowed, facts.environment


def test_the_restored_table_is_checked_like_the_stack_s_own_before_the_switch(generated, docs_inputs):
    for facts, runbook, _ in _restores(generated, docs_inputs):
        switch = _index(runbook, f"-c {SERVING_TABLE_CONTEXT}.{facts.environment}=")
        check = _index(runbook, f'--table-name "$RESTORED" --query "{READY_QUERY}"')
        assert f'--table-name "$TABLE" --query "{READY_QUERY}"' in _steps(runbook)[check]
        assert check < switch


def test_the_switch_is_recorded_in_cdk_json_and_the_rollback_removes_it(generated, docs_inputs, tmp_path):
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (a precondition of the runbook)")
    for facts, runbook, _ in _restores(generated, docs_inputs):
        key = f"{SERVING_TABLE_CONTEXT}.{facts.environment}"
        record = _steps(runbook)[_index(runbook, "cdk.json")]
        assert _index(runbook, "cdk.json") > _index(runbook, f"-c {key}=")
        (undo,) = [step.command for step in runbook.rollback if "del(" in step.command]
        shutil.copy(CDK_JSON, tmp_path / "cdk.json")
        for snippet, expected in ((record, "Items-restored"), (undo, None)):
            edit = "\n".join(line for line in snippet.splitlines() if not line.startswith(("git ", "cdk ")))
            env = {"PATH": "/usr/bin:/bin", "RESTORED": "Items-restored"}
            subprocess.run(["bash", "-ec", edit], cwd=tmp_path, env=env, check=True)
            context = json.loads((tmp_path / "cdk.json").read_text())["context"]
            assert context.get(key) == expected
        assert "git commit" in record


def test_the_switch_rollback_and_retirement_keep_every_instance_s_table_granted(generated, docs_inputs):
    for facts, runbook, _ in _restores(generated, docs_inputs):
        switch = runbook.steps[_index(runbook, f"-c {SERVING_TABLE_CONTEXT}.{facts.environment}=")]
        assert "keeps the grant on the stack's own table" in switch.title
        assert "before it puts the previous grants back" in switch.stop_if
        retire = runbook.steps[_index(runbook, "create-backup")]
        assert "only once the switch's instance refresh has completed" in retire.title
        first, second = runbook.rollback
        assert f'-c {DRAINING_TABLE_CONTEXT}.{facts.environment}="$RESTORED"' in first.command
        assert "-c items_table" not in second.command and "cdk deploy" in second.command
        assert second.title.startswith("Only once that refresh has completed")


def test_the_restore_duration_is_the_waiter_s_limit_not_a_promise(generated, docs_inputs):
    delay, attempts = waiter_bound("dynamodb", "TableExists")
    for _, runbook, _ in _restores(generated, docs_inputs):
        (limit,) = [d for d in runbook.durations if "waiter's limit" in d.name]
        assert limit.seconds == delay * attempts
        assert f"{delay} s x {attempts}" in limit.formula
        assert not any(d.name == "the restore itself" for d in runbook.durations)
