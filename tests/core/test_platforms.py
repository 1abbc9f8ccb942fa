"""The instances' platform: architecture from each cloud's instance type names, and the wheel tags that run on
each image. Naming conventions, as documented:
- AWS: https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html ("g" = Graviton)
- Azure: https://learn.microsoft.com/azure/virtual-machines/vm-naming-conventions ("p" = Arm-based CPU)
- GCP: https://cloud.google.com/compute/docs/instances/arm-on-compute (T2A, C4A, N4A are Arm)
"""

from __future__ import annotations

import pytest

from refarch.locks import read_lock
from refarch.platforms import AARCH64, CLOUDS, IMAGES, X86_64, PlatformError, architecture, platform_for
from refarch.spec import load_all

ARM = {
    "aws": ["t4g.small", "m7g.large", "c7gn.xlarge", "r8g.medium", "x2gd.large", "im4gn.large", "a1.large"],
    "azure": ["Standard_D4ps_v5", "Standard_D2pls_v6", "Standard_E8pds_v6", "Standard_B2pts_v2"],
    "gcp": ["t2a-standard-1", "c4a-standard-4", "c4a-highmem-8", "n4a-standard-2"],
}
X86 = {
    "aws": ["t3.small", "m7i.large", "m7i-flex.large", "c7a.large", "g4dn.xlarge", "p4d.24xlarge"],
    "azure": ["Standard_D4s_v5", "Standard_D2as_v5", "Standard_B2s", "Standard_DC2ads_v5", "Standard_D2_v5"],
    "gcp": ["e2-small", "n2-standard-2", "c3-standard-4", "n2d-standard-2", "t2d-standard-1"],
}


@pytest.mark.parametrize(("cloud", "instance_type"), [(c, t) for c in CLOUDS for t in ARM[c]])
def test_arm_instance_types_get_aarch64(cloud: str, instance_type: str) -> None:
    assert architecture(cloud, instance_type) == AARCH64


@pytest.mark.parametrize(("cloud", "instance_type"), [(c, t) for c in CLOUDS for t in X86[c]])
def test_other_instance_types_get_x86_64(cloud: str, instance_type: str) -> None:
    assert architecture(cloud, instance_type) == X86_64


def test_every_configured_instance_type_has_a_locked_platform() -> None:
    """What each environment deploys (the spec's AWS instance type, each Pulumi stack's size) resolves to a
    platform the cloud's lock carries wheels for."""
    specs = load_all()
    deployed = {("aws", name): spec.aws.instance_type for name, spec in specs.items()}
    deployed |= {("azure", name): spec.azure.vm_size for name, spec in specs.items()}
    deployed |= {("gcp", name): spec.gcp.machine_type for name, spec in specs.items()}
    assert {cloud for cloud, _ in deployed} == set(CLOUDS)
    for (cloud, where), instance_type in deployed.items():
        assert str(platform_for(cloud, instance_type)) in read_lock(cloud).platforms, (cloud, where)


def test_unknown_cloud_is_refused() -> None:
    with pytest.raises(PlatformError, match=r"cloud 'oci': expected one of aws, azure, gcp"):
        architecture("oci", "VM.Standard.A1.Flex")


def test_wheel_tags_follow_the_image_and_architecture() -> None:
    aws_x86 = platform_for("aws", "t3.small")
    aws_arm = platform_for("aws", "t4g.small")
    newest = f"manylinux_{IMAGES['aws'].glibc[0]}_{IMAGES['aws'].glibc[1]}_x86_64"
    assert aws_x86.platform_tags[0] == newest and "manylinux2014_x86_64" in aws_x86.platform_tags
    too_new = f"manylinux_2_{IMAGES['aws'].glibc[1] + 1}_x86_64"
    assert aws_x86.rank(f"pkg-1.0-cp311-cp311-{newest}.whl") == 0
    assert aws_x86.rank(f"pkg-1.0-cp311-cp311-{too_new}.whl") is None
    assert aws_arm.rank("pkg-1.0-cp311-cp311-manylinux2014_x86_64.whl") is None
    assert aws_arm.rank("pkg-1.0-cp311-cp311-manylinux2014_aarch64.whl") is not None
    assert aws_x86.rank("pkg-1.0-cp312-cp312-manylinux2014_x86_64.whl") is None
    # A pure wheel runs everywhere, but pip prefers a platform wheel of the same release.
    assert aws_x86.rank("pkg-1.0-py3-none-any.whl") > aws_x86.rank(
        "pkg-1.0-cp311-abi3-manylinux2014_x86_64.whl"
    )
