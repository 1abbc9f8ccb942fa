"""The offline runner refuses stack config the program would never read: a namespace that is neither the
project's nor a provider's, and a provider key the provider's SDK does not declare (named as such, not as
the key it was meant to be left unset)."""

from __future__ import annotations

import pytest

from refarch.stack_config import config_problems, provider_keys
from refarch_pulumi.offline import project


@pytest.mark.parametrize(("cloud", "stray"), [("azure", "refarch:cacheSku"), ("gcp", "refarch-azure:vmSize")])
def test_an_unknown_namespace_is_refused_naming_the_ones_read(cloud, stray):
    pulumi_project = project(cloud)
    config = {**pulumi_project.config("dev"), stray: "Balanced_B1"}
    (problem,) = pulumi_project.refusal("dev", config).problems
    assert (problem.field, problem.value) == (stray, "Balanced_B1")
    assert f"unknown namespace `{stray.split(':')[0]}`" in problem.rule
    assert f"{pulumi_project.name}:" in problem.rule


@pytest.mark.parametrize(
    ("cloud", "meant", "typo"),
    [("azure", "azure-native:location", "azure-native:locaton"), ("gcp", "gcp:region", "gcp:regoin")],
)
def test_a_misspelt_provider_key_is_named_with_the_allowed_keys(cloud, meant, typo):
    pulumi_project = project(cloud)
    config = pulumi_project.config("dev")
    config[typo] = config.pop(meant)
    (problem,) = pulumi_project.refusal("dev", config).problems
    namespace, key = typo.split(":")
    assert problem.field == typo and f"unknown key `{key}` of {namespace}" in problem.rule
    assert f"did you mean `{meant.split(':')[1]}`" in problem.rule


def test_provider_keys_come_from_the_sdk_and_every_shipped_stack_passes():
    assert {"location", "subscriptionId"} <= provider_keys("pulumi_azure_native")[1]
    assert provider_keys("pulumi_gcp")[0] == "gcp" and {"project", "region"} <= provider_keys("pulumi_gcp")[1]
    for cloud in ("azure", "gcp"):
        pulumi_project = project(cloud)
        modules = pulumi_project.module("offline").SDK_MODULES
        for stack in pulumi_project.stacks():
            assert config_problems(pulumi_project.config(stack), pulumi_project.name, modules) == []
