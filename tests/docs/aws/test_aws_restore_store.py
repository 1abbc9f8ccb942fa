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
from tools.docs.aws.iam import DATA_KEY_OUTPUT, TOPIC_KEY_SID, policy
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
        # The topic key's statement (the escalation publishes) is test_aws_permission_scopes.py's.
        on_keys = [
            s
            for s in statements
            if any(a.startswith("kms:") for a in s["Action"]) and s["Sid"] != TOPIC_KEY_SID
        ]
        if key is None:
            assert on_keys == [], facts.environment
            continue
        keyed += 1
        (statement,) = on_keys
        assert set(statement["Action"]) == KEY_ACTIONS
        # The key's ARN only a deployment knows: the stack outputs it, the runbook looks it up.
        outputs = docs_inputs.models["aws"][facts.environment]["Outputs"]
        assert outputs[DATA_KEY_OUTPUT]["Value"] == {"Fn::GetAtt": [key, "Arn"]}
        assert DATA_KEY_OUTPUT in statement["Resource"]
        lookup = f"OutputKey=='{DATA_KEY_OUTPUT}'"
        assert f"Resource: the stack's {DATA_KEY_OUTPUT} output" in runbook.permissions_note
        assert lookup in runbook.permissions_note
        assert any(lookup in found.command for found in runbook.lookups), facts.environment
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


def _switch(facts) -> str:
    """The jq filter that records the restored table as the serving one in cdk.json."""
    return f'.context["{SERVING_TABLE_CONTEXT}.{facts.environment}"] = $table'


def _deploys(runbook) -> list[list[str]]:
    steps = (*runbook.steps, *runbook.rollback)
    return [argv for step in steps for argv in simple_commands(step.command) if argv[:2] == ["cdk", "deploy"]]


def test_the_restored_table_is_checked_like_the_stack_s_own_before_the_switch(generated, docs_inputs):
    for facts, runbook, _ in _restores(generated, docs_inputs):
        switch = _index(runbook, _switch(facts))
        check = _index(runbook, f'--table-name "$RESTORED" --query "{READY_QUERY}"')
        assert f'--table-name "$TABLE" --query "{READY_QUERY}"' in _steps(runbook)[check]
        assert check < switch
        # Step 5 sets no key: another key is fixed by restoring with the key or re-encrypting the table.
        assert "--sse-specification-override" in runbook.steps[check].stop_if
        assert 'update-table --table-name "$RESTORED" --sse-specification' in runbook.steps[check].stop_if


def test_every_deploy_reads_the_switch_from_cdk_json_not_the_command_line(generated, docs_inputs):
    # A `-c items_table...` on one deploy's command line is lost by the next deploy that lacks it, which
    # drops the restored table's grant while instances still use it: the switch lives in cdk.json only.
    for facts, runbook, _ in _restores(generated, docs_inputs):
        deploys = _deploys(runbook)
        assert len(deploys) == 3, facts.environment
        for argv in deploys:
            assert not any(a.startswith((SERVING_TABLE_CONTEXT, DRAINING_TABLE_CONTEXT)) for a in argv), argv
        switch = _steps(runbook)[_index(runbook, _switch(facts))]
        assert switch.index("mv cdk.json.new cdk.json") < switch.index("cdk deploy")
        commit = _index(runbook, "git commit")
        assert commit > _index(runbook, _switch(facts))
        assert "git push" in _steps(runbook)[commit] and "merge" in runbook.steps[commit].title
        for step in (runbook.steps[_index(runbook, _switch(facts))], *runbook.rollback):
            assert "git checkout cdk.json" in step.stop_if, step.title


def _edits(snippet: str) -> str:
    """The snippet's lines that edit cdk.json (everything but the deploy and the commit)."""
    return "\n".join(line for line in snippet.splitlines() if not line.startswith(("git commit", "cdk ")))


def _repository(tmp_path):
    """A fresh repository holding a copy of the project's cdk.json (the runbook's edits end in `git diff`)."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    shutil.rmtree(tmp_path / ".git", ignore_errors=True)
    shutil.copy(CDK_JSON, tmp_path / "cdk.json")
    for argv in (["init", "-q"], ["add", "cdk.json"], ["commit", "-qm", "base"]):
        subprocess.run([*git, *argv], cwd=tmp_path, check=True, env={"PATH": "/usr/bin:/bin"})


def test_the_switch_is_recorded_in_cdk_json_and_the_rollback_removes_it(generated, docs_inputs, tmp_path):
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (a precondition of the runbook)")
    for facts, runbook, _ in _restores(generated, docs_inputs):
        serving = f"{SERVING_TABLE_CONTEXT}.{facts.environment}"
        draining = f"{DRAINING_TABLE_CONTEXT}.{facts.environment}"
        record = _steps(runbook)[_index(runbook, _switch(facts))]
        drain, undrain = (step.command for step in runbook.rollback)
        _repository(tmp_path)
        env = {"PATH": "/usr/bin:/bin", "RESTORED": "Items-restored"}
        for snippet, expected in (
            (record, {serving: "Items-restored"}),
            (drain, {draining: "Items-restored"}),
            (undrain, {}),
        ):
            subprocess.run(["bash", "-ec", _edits(snippet)], cwd=tmp_path, env=env, check=True)
            context = json.loads((tmp_path / "cdk.json").read_text())["context"]
            assert {k: context[k] for k in (serving, draining) if k in context} == expected, snippet


def test_a_failing_jq_leaves_cdk_json_as_it_was(generated, docs_inputs, tmp_path):
    # A jq that fails (a typo, a missing variable, jq absent) must not replace cdk.json with its empty output.
    # Run as pasted into an interactive shell: no `set -e` to stop after the failure.
    broken = tmp_path / "bin"
    broken.mkdir()
    (broken / "jq").write_text("#!/bin/sh\necho 'jq: error: simulated' >&2\nexit 3\n")
    (broken / "jq").chmod(0o755)
    for _, runbook, _ in _restores(generated, docs_inputs):
        switch = _steps(runbook)[_index(runbook, "cdk.json.new")]
        for snippet in (switch, *(step.command for step in runbook.rollback)):
            _repository(tmp_path)
            before = (tmp_path / "cdk.json").read_bytes()
            env = {"PATH": f"{broken}:/usr/bin:/bin", "RESTORED": "Items-restored"}
            edit = _edits(snippet)
            assert edit, snippet
            done = subprocess.run(["bash", "-c", edit], cwd=tmp_path, env=env, capture_output=True)
            assert done.returncode != 0
            assert (tmp_path / "cdk.json").read_bytes() == before, snippet


def test_the_switch_rollback_and_retirement_keep_every_instance_s_table_granted(generated, docs_inputs):
    for facts, runbook, _ in _restores(generated, docs_inputs):
        switch = runbook.steps[_index(runbook, _switch(facts))]
        assert "keeps the grant on the stack's own table" in switch.title
        assert "before it puts the previous grants back" in switch.stop_if
        retire = runbook.steps[_index(runbook, "create-backup")]
        assert "only once the switch's instance refresh has completed" in retire.title
        first, second = runbook.rollback
        assert f'.context["{DRAINING_TABLE_CONTEXT}.{facts.environment}"] = $table' in first.command
        assert f'del(.context["{DRAINING_TABLE_CONTEXT}.{facts.environment}"])' in second.command
        assert "cdk deploy" in second.command
        assert second.title.startswith("Only once that refresh has completed")


def test_the_restore_duration_is_the_waiter_s_limit_not_a_promise(generated, docs_inputs):
    delay, attempts = waiter_bound("dynamodb", "TableExists")
    for _, runbook, _ in _restores(generated, docs_inputs):
        (limit,) = [d for d in runbook.durations if "waiter's limit" in d.name]
        assert limit.seconds == delay * attempts
        assert f"{delay} s x {attempts}" in limit.formula
        assert not any(d.name == "the restore itself" for d in runbook.durations)
