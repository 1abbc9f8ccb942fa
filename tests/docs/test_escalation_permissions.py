"""Every cloud derives a runbook's permissions from `Runbook.commands()`: a command that appears only in the
escalation is validated and granted like any other. (GCP once derived them from the steps, verification and
rollback only, so an escalation command would have run without its permission.)"""

from __future__ import annotations

import importlib

import pytest

from tools.docs import registry
from tools.docs.commands import validate
from tools.docs.model import Step

# Per cloud: the module whose escalation each runbook uses, that function's name, a command only an
# escalation would run, and the permission it needs (from the cloud's own derivation tables: botocore's
# model, tools/docs/azure/permissions.py, tools/docs/commands/gcloud_surfaces.toml).
ONLY_IN_ESCALATION = {
    "aws": (
        "tools.docs.aws.steps",
        "escalation",
        "aws health describe-events --region us-east-1",
        '"health:DescribeEvents"',
    ),
    "azure": (
        "tools.docs.azure.runbooks",
        "_escalation",
        'az lock list -g "$RG"',
        "Microsoft.Authorization/locks/read",
    ),
    "gcp": (
        "tools.docs.gcp.runbooks",
        "_escalation",
        'gcloud redis instances list --region="$REGION" --project="$PROJECT"',
        "`redis.instances.list`",
    ),
}


@pytest.mark.parametrize("cloud", sorted(ONLY_IN_ESCALATION))
def test_a_command_only_in_the_escalation_is_validated_and_granted(cloud, generated, monkeypatch):
    where, name, command, permission = ONLY_IN_ESCALATION[cloud]
    facts = next(stack.facts for stack in generated if stack.directory == f"{cloud}/prod")
    generator = registry.generator(cloud)
    before = next(r for r in generator.runbooks(facts) if r.scenario == "replace-one-instance")
    assert permission not in before.permissions, "pick a command no other part of the runbook runs"

    module = importlib.import_module(where)
    original = getattr(module, name)
    monkeypatch.setattr(
        module,
        name,
        lambda *args, **kwargs: (*original(*args, **kwargs), Step(title="Look further", command=command)),
    )
    after = next(r for r in generator.runbooks(facts) if r.scenario == "replace-one-instance")
    assert command in after.commands() and not validate(command)
    assert permission in after.permissions
