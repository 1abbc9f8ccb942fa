"""The one Pulumi pipeline's description (refarch_pulumi.stack.StackPipeline) is checked when it is made, so a
project that names a field the spec lacks fails on import, not half way through a preview."""

from __future__ import annotations

import pytest

from refarch.spec import load_environment
from refarch.spec_reads import leaf_paths
from refarch_pulumi.offline import projects
from refarch_pulumi.stack import StackPipeline


def _pipeline(instance_field: str) -> StackPipeline:
    pipeline = projects()[0].module("program").PIPELINE
    return StackPipeline(
        cloud=pipeline.cloud,
        provider_namespace=pipeline.provider_namespace,
        provider_model=pipeline.provider_model,
        settings_model=pipeline.settings_model,
        instance_field=instance_field,
    )


@pytest.mark.parametrize("field", ["azure.vm_sise", "azure", "capacity"])
def test_an_instance_field_that_is_no_value_of_the_spec_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=rf"instance_field '{field}' is not a field of the spec"):
        _pipeline(field)


# The size each cloud's instances boot, read as the spec attribute it is (not by re-walking instance_field).
INSTANCE_SIZE = {
    "azure": lambda spec: spec.azure.vm_size,
    "gcp": lambda spec: spec.gcp.machine_type,
}


@pytest.mark.parametrize("project", projects(), ids=lambda project: project.cloud)
def test_each_project_builds_its_bundle_for_a_size_in_its_own_spec_table(project) -> None:
    pipeline = project.module("program").PIPELINE
    spec = load_environment("dev")
    assert pipeline.instance_field in leaf_paths(type(spec))
    assert pipeline.instance_field.split(".")[0] == project.cloud
    assert pipeline.instance_type(spec) == INSTANCE_SIZE[project.cloud](spec)
