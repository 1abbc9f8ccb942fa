"""`pulumi config get` in a runbook must name a key the stack really sets: a misspelt or unset key would
leave the runbook's variable empty at 3 a.m."""

from __future__ import annotations

import shlex

import pytest

from tools.docs.commands import pulumi_cli


def problems(command: str) -> list[str]:
    return pulumi_cli.validate(shlex.split(command))


@pytest.mark.parametrize("key", ["gcp:project", "gcp:region"])
def test_a_key_the_stack_sets_is_accepted(key):
    assert problems(f"pulumi config get {key} --stack prod --cwd pulumi/gcp") == []


@pytest.mark.parametrize(
    "command",
    [
        "pulumi config get gcp:projekt --stack prod --cwd pulumi/gcp",
        "pulumi config get refarch-gcp:machineType --stack prod --cwd pulumi/gcp",
        "pulumi config get --stack prod --cwd pulumi/gcp",
        "pulumi config get gcp:project --stack qa --cwd pulumi/gcp",
        "pulumi config get gcp:project --stack prod --cwd pulumi/gcp --show-secrets",
    ],
)
def test_a_key_the_stack_does_not_set_is_refused(command):
    assert problems(command)
