"""The gcloud validator (tools/docs/commands/gcloud.py) against its reviewed table of command surfaces:
each kind of mistake it must refuse, and the table's own shape. Flags and values in the table were read
from the gcloud reference pages each surface names (cloud.google.com/sdk/gcloud/reference/...)."""

from __future__ import annotations

import pytest

from tools.docs.commands import gcloud, validate

GOOD = {
    # https://cloud.google.com/sdk/gcloud/reference/compute/instance-groups/managed/recreate-instances
    "recreate": 'gcloud compute instance-groups managed recreate-instances "$GROUP" --instances="$VM" '
    '--region="$REGION"',
    # https://cloud.google.com/sdk/gcloud/reference/redis/instances/failover
    "failover": 'gcloud redis instances failover "$CACHE" --region "$REGION" '
    "--data-protection-mode=limited-data-loss",
    # https://cloud.google.com/sdk/gcloud/reference/firestore/databases/clone
    "clone": "gcloud firestore databases clone --source-database=projects/p/databases/d "
    "--snapshot-time=2026-11-30T10:00:00Z --destination-database=d-restored",
    "wait": 'gcloud compute instance-groups managed wait-until "$GROUP" --version-target-reached '
    '--region "$REGION"',
    "list": "gcloud redis instances list --region=r --filter='host=10.0.0.3' --format='value(name)'",
}

BAD = {
    "unknown command": (
        "gcloud compute instance-groups managed resize g --size=3 --region=r",
        "not a surface",
    ),
    "unknown flag": (
        "gcloud compute instance-groups managed recreate-instances g --instances=vm --region=r --force",
        "--force is not a flag",
    ),
    "missing required flag": (
        "gcloud compute instance-groups managed recreate-instances g --region=r",
        "--instances is required",
    ),
    "invalid enum value": (
        "gcloud redis instances failover c --region=r --data-protection-mode=lose-everything",
        "not one of force-data-loss, limited-data-loss",
    ),
    "exactly one of": ("gcloud compute instance-groups managed wait-until g --region=r", "exactly one of"),
    "exclusive flags": (
        "gcloud compute instance-groups managed list-instances g --region=r --zone=z",
        "at most one of --region, --zone",
    ),
    "missing positional": ("gcloud redis instances describe --region=r", "takes INSTANCE"),
    "list flag on a non-list command": (
        "gcloud redis instances describe c --region=r --filter=x",
        "--filter is not a flag",
    ),
    "wrong track": ("gcloud beta redis instances failover c --region=r", "(BETA) is not a surface"),
    "switch given a value": (
        "gcloud redis instances failover c --region=r --async=yes",
        "takes no value",
    ),
}


@pytest.mark.parametrize("command", GOOD.values(), ids=GOOD.keys())
def test_listed_commands_parse(command):
    assert validate(command) == []


@pytest.mark.parametrize(("command", "problem"), BAD.values(), ids=BAD.keys())
def test_each_kind_of_mistake_is_refused(command, problem):
    problems = validate(command)
    assert any(problem in found for found in problems), problems


def test_every_surface_names_its_reference_page_and_valid_groups():
    table = gcloud.load()
    assert table.surfaces, "the table lists no surface"
    for surface in table.surfaces:
        assert surface.doc.startswith("https://cloud.google.com/"), surface.command
        assert surface.track in {"GA", "BETA", "ALPHA"}
        for group in (*surface.one_of, *surface.at_most_one):
            assert set(group) <= set(surface.flags), (surface.command, group)
        for name, spec in surface.flags.items():
            assert spec["value"] == "none" or spec["value"] == "text" or isinstance(spec["value"], list), name


def test_a_surface_removed_from_the_table_is_refused(tmp_path):
    text = gcloud.SURFACES.read_text()
    start = text.index('[[surface]]\ncommand = "redis instances failover"')
    end = text.index("[[surface]]", start + 1)
    trimmed = tmp_path / "surfaces.toml"
    trimmed.write_text(text[:start] + text[end:])
    argv = ["gcloud", "redis", "instances", "failover", "c", "--region=r"]
    assert gcloud.validate(argv, gcloud.load(trimmed)) != []
    assert gcloud.validate(argv, gcloud.load()) == []


def test_each_reference_page_is_the_surfaces_own():
    for surface in gcloud.load().surfaces:
        track = "" if surface.track == "GA" else f"{surface.track.lower()}/"
        assert surface.doc == (
            f"https://cloud.google.com/sdk/gcloud/reference/{track}{'/'.join(surface.command)}"
        ), surface.command
