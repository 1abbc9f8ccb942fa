"""The platform each cloud's instances run the service on: the OS image's Python and C library, and the CPU
architecture of the instance type. The release bundle's wheels are chosen for exactly this platform.

Architecture comes from the instance type's name, by each cloud's own naming convention:
- AWS: a `g` after the generation digit is a Graviton (Arm) processor (`t4g`, `m7g`, `c7gn`, `r8g`), and
  `a1` is the first Arm family. https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html
- Azure: the additive feature `p` after the vCPU count is an Arm processor (`Standard_D4ps_v5`,
  `Standard_D2pls_v6`, `Standard_E8pds_v6`). https://learn.microsoft.com/azure/virtual-machines/vm-naming-conventions
- GCP: the Arm machine series are T2A (Ampere Altra), C4A and N4A (Axion).
  https://cloud.google.com/compute/docs/instances/arm-on-compute
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

X86_64, AARCH64 = "x86_64", "aarch64"
ARCHITECTURES = (X86_64, AARCH64)

_ARM_INSTANCE_TYPES = {
    "aws": re.compile(r"^(a1|[a-z]+[0-9]+g[a-z-]*)\."),
    "azure": re.compile(r"^Standard_[A-Z]+[0-9]+(-[0-9]+)?[a-z]*p[a-z]*_v[0-9]+$"),
    "gcp": re.compile(r"^(t2a|c4a|n4a)-"),
}
CLOUDS = tuple(_ARM_INSTANCE_TYPES)


@dataclass(frozen=True)
class Image:
    """The OS image a cloud's fleet boots: its Python (the boot script's venv) and its glibc, which bounds
    the manylinux wheels it runs. `names` is the image each architecture boots."""

    os: str
    python: tuple[int, int]
    glibc: tuple[int, int]
    names: dict[str, str]


# Python 3.11 is Debian 12's python3 and Amazon Linux 2023's python3.11 package; glibc 2.36 and 2.34.
IMAGES = {
    "aws": Image(
        "Amazon Linux 2023",
        (3, 11),
        (2, 34),
        {
            X86_64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
            AARCH64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        },
    ),
    "azure": Image(
        "Debian 12",
        (3, 11),
        (2, 36),
        {X86_64: "Debian:debian-12:12-gen2", AARCH64: "Debian:debian-12:12-arm64"},
    ),
    "gcp": Image(
        "Debian 12",
        (3, 11),
        (2, 36),
        {X86_64: "debian-cloud/debian-12", AARCH64: "debian-cloud/debian-12-arm64"},
    ),
}

# The oldest manylinux glibc each architecture has wheels for (manylinux1 and manylinux2014).
_OLDEST_GLIBC_MINOR = {X86_64: 5, AARCH64: 17}
# PEP 600's aliases for the older manylinux tags.
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


@dataclass(frozen=True)
class Platform:
    """CPython `python` on Linux with glibc `glibc` on `arch`: what a wheel must be built for."""

    python: tuple[int, int]
    glibc: tuple[int, int]
    arch: str

    @property
    def abi(self) -> str:
        return f"cp{self.python[0]}{self.python[1]}"

    def __str__(self) -> str:
        return f"{self.abi}-manylinux_{self.glibc[0]}_{self.glibc[1]}_{self.arch}"

    @property
    def python_version(self) -> str:
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def platform_tags(self) -> list[str]:
        """Every manylinux tag this glibc runs, newest first (pip's order of preference)."""
        tags = []
        for minor in range(self.glibc[1], _OLDEST_GLIBC_MINOR[self.arch] - 1, -1):
            tags.append(f"manylinux_2_{minor}_{self.arch}")
            if minor in _LEGACY_MANYLINUX:
                tags.append(f"{_LEGACY_MANYLINUX[minor]}_{self.arch}")
        return tags

    def pip_args(self) -> list[str]:
        """pip download's options for wheels of this platform (pip expands none of the manylinux_2_x tags)."""
        platforms = [arg for tag in self.platform_tags for arg in ("--platform", tag)]
        return [
            *platforms,
            "--python-version",
            self.python_version,
            "--implementation",
            "cp",
            "--abi",
            self.abi,
        ]

    @cached_property
    def _tag_ranks(self) -> dict[Tag, int]:
        """Every tag a wheel for this platform may carry, by pip's preference (0 is the most preferred)."""
        tags = [
            *cpython_tags(self.python, abis=[self.abi], platforms=self.platform_tags),
            *compatible_tags(self.python, interpreter=self.abi, platforms=self.platform_tags),
        ]
        ranks: dict[Tag, int] = {}
        for rank, tag in enumerate(tags):
            ranks.setdefault(tag, rank)
        return ranks

    def rank(self, wheel_filename: str) -> int | None:
        """How much pip prefers this wheel on this platform (lower is better), or None if it cannot run."""
        _, _, _, tags = parse_wheel_filename(wheel_filename)
        ranks = [self._tag_ranks[tag] for tag in tags if tag in self._tag_ranks]
        return min(ranks) if ranks else None


class PlatformError(ValueError):
    """An instance type or cloud no release bundle can be built for."""


def architecture(cloud: str, instance_type: str) -> str:
    if cloud not in _ARM_INSTANCE_TYPES:
        raise PlatformError(f"cloud {cloud!r}: expected one of {', '.join(CLOUDS)}")
    return AARCH64 if _ARM_INSTANCE_TYPES[cloud].match(instance_type) else X86_64


def image_platform(cloud: str, arch: str) -> Platform:
    if arch not in ARCHITECTURES:
        raise PlatformError(f"architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}")
    image = IMAGES[cloud]
    return Platform(python=image.python, glibc=image.glibc, arch=arch)


def platform_for(cloud: str, instance_type: str) -> Platform:
    """The platform an instance of `instance_type` on `cloud` runs the service on."""
    return image_platform(cloud, architecture(cloud, instance_type))


def lock_platforms(cloud: str) -> list[Platform]:
    """Every platform a cloud's lock carries hashes for: its image on each architecture."""
    return [image_platform(cloud, arch) for arch in ARCHITECTURES]
