"""The offline runner and inventory every Pulumi project relies on, proven on a tiny project of our own."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from refarch.inventory import MASK, Inventory, InventoryError, masked_secrets, reviewed
from refarch_pulumi.offline import PulumiProject, StackConfigError

PROGRAM = """
import pulumi
from pydantic import BaseModel, Field

from refarch.errors import SpecError
from refarch_pulumi.stack import environment_spec, read_settings, stack_settings, unknown_keys


class Settings(BaseModel):
    colour: str = Field("blue", pattern="^(blue|green)$")
    replicas: int = 1


class Thing(pulumi.CustomResource):
    def __init__(self, name, props, opts=None):
        super().__init__("fake:index:Thing", name, props, opts)


class Tier(pulumi.ComponentResource):
    def __init__(self, name, spec, settings, opts=None):
        super().__init__("refarch:fake:Tier", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret = pulumi.Output.secret("hunter2")
        self.store = Thing("store", {"size": spec.capacity.max, "password": secret}, child)
        # A data source, answered by the mocks' invoke().
        region = pulumi.runtime.invoke("fake:index:getRegion", {}).value["name"]
        wiring = {
            "storeId": self.store.id,
            "colour": settings.colour,
            "replicas": settings.replicas,
            "region": region,
        }
        # An alias, as provider SDKs add to every resource: offline runs drop them (no state to map).
        renamed = pulumi.ResourceOptions(
            parent=self,
            aliases=[pulumi.Alias(name="old-reader")],
            custom_timeouts=pulumi.CustomTimeouts(update="90s"),
            ignore_changes=["colour"],
        )
        Thing("reader", wiring, renamed)
        self.register_outputs({})


def main():
    config = pulumi.Config()
    spec = environment_spec(config)
    typos = unknown_keys(config, Settings)
    if typos:
        raise SpecError(spec.name, typos)
    settings = stack_settings(spec.name, config.name, Settings, read_settings(config, Settings))
    Tier("tier", spec, settings)
"""

OFFLINE = """
from refarch_pulumi.offline import CloudMocks

SDK_MODULES = ("pulumi",)


class Mocks(CloudMocks):
    def computed(self, args):
        return {"endpoint": f"{args.name}.example.internal"} if args.typ == "fake:index:Thing" else {}

    def invoke(self, token, args):
        return {"name": "north"} if token == "fake:index:getRegion" else super().invoke(token, args)
"""


@pytest.fixture(scope="module")
def fake_project(tmp_path_factory) -> PulumiProject:
    root: Path = tmp_path_factory.mktemp("pulumi") / "fake"
    (root / "fake_stack").mkdir(parents=True)
    (root / "fake_stack" / "__init__.py").write_text("")
    (root / "fake_stack" / "program.py").write_text(PROGRAM)
    (root / "fake_stack" / "offline.py").write_text(OFFLINE)
    (root / "Pulumi.yaml").write_text(
        "name: refarch-fake\nruntime: python\nconfig:\n  replicas:\n    default: 2\n"
    )
    (root / "Pulumi.dev.yaml").write_text("config:\n  refarch-fake:colour: green\n")
    (root / "Pulumi.prod.yaml").write_text(
        textwrap.dedent("""
        config:
          refarch-fake:spec:
            capacity:
              max: 20
        """)
    )
    return PulumiProject("fake", root)


@pytest.fixture(scope="module")
def dev(fake_project) -> Inventory:
    return fake_project.preview("dev")


def test_records_every_resource_with_its_parent(dev):
    assert [(r.type, r.name, r.parent) for r in dev] == [
        ("fake:index:Thing", "reader", "tier"),
        ("fake:index:Thing", "store", "tier"),
        ("refarch:fake:Tier", "tier", None),
    ]
    assert [r.name for r in dev.components()] == ["tier"]


def test_records_what_each_resource_waits_for_and_its_timeouts(dev):
    # The reader reads the store's id: the engine creates the store first. Timeouts only where asked.
    assert (dev.named("reader").depends_on, dev.named("store").depends_on) == (("store",), ())
    assert (dev.named("reader").custom_timeouts, dev.named("store").custom_timeouts) == (
        {"update": "90s"},
        {},
    )


def test_records_what_the_engine_ignores_after_creation(dev):
    assert (dev.named("reader").ignore_changes, dev.named("store").ignore_changes) == (("colour",), ())


def test_config_comes_from_project_defaults_and_the_stack_file(dev):
    reader = dev.named("reader")
    assert reader.get("colour") == "green"
    assert reader.get("region") == "north"
    assert reader.get("replicas") == 2


def test_secrets_are_masked(dev):
    assert dev.named("store").get("password") == MASK
    assert masked_secrets(dev) == ["fake:index:Thing store password"]
    assert "hunter2" not in str(dev.to_json())


def test_spec_overrides_come_from_the_stack_config(dev, fake_project):
    assert dev.named("store").get("size") == 3  # dev's capacity.max in environments.toml
    assert fake_project.preview("prod").named("store").get("size") == 20


def test_runs_do_not_leak_into_each_other(fake_project, dev):
    again = fake_project.preview("dev")
    assert again.to_json() == dev.to_json()


@pytest.mark.parametrize(
    ("config", "field", "value"),
    [
        ({"refarch-fake:colour": "red"}, "refarch-fake:colour", "red"),
        ({"refarch-fake:replicas": "many"}, "refarch-fake:replicas", "many"),
        ({"refarch-fake:spec": '{"capacity": {"max": 0}}'}, "capacity.max", 0),
        ({"refarch-fake:spec": '{"capcity": {"max": 4}}'}, "capcity", {"max": 4}),
        ({"refarch-fake:spec": "[1, 2]"}, "refarch-fake:spec", [1, 2]),
        ({"refarch-fake:colur": "red"}, "refarch-fake:colur", "red"),
    ],
)
def test_bad_config_fails_before_anything_is_registered(fake_project, config, field, value):
    refusal = fake_project.refusal("dev", config)
    assert refusal.environment == "dev"
    assert [(p.field, p.value) for p in refusal.problems] == [(field, value)]


def test_refusal_notices_a_program_that_registers_first(fake_project, monkeypatch):
    program = fake_project.module("program")
    original = program.main

    def late_validation():
        program.Thing("early", {})
        original()

    monkeypatch.setattr(program, "main", late_validation)
    with pytest.raises(AssertionError, match=r"refused only after registering \['fake:index:Thing early'\]"):
        fake_project.refusal("dev", {"refarch-fake:colour": "red"})


def test_refusal_fails_when_the_config_is_accepted(fake_project):
    with pytest.raises(AssertionError, match="accepted config"):
        fake_project.refusal("dev", {"refarch-fake:colour": "blue"})


def test_every_cloud_resource_belongs_to_a_component(dev):
    assert dev.orphans() == []


def test_stacks_are_listed_in_the_spec_order(fake_project):
    assert fake_project.stacks() == ["dev", "prod"]


def test_missing_stack_file_is_named(fake_project):
    with pytest.raises(StackConfigError, match=r"Pulumi\.qa\.yaml does not exist"):
        fake_project.config("qa")


def test_queries_refuse_to_match_nothing(dev):
    with pytest.raises(InventoryError, match="no resource of type fake:index:Missing"):
        dev.of_type("fake:index:Missing")
    with pytest.raises(InventoryError, match="expected one fake:index:Thing"):
        dev.only("fake:index:Thing")
    with pytest.raises(KeyError, match=r"has no input 'colour\.shade'"):
        dev.named("reader").get("colour.shade")


def test_reviewed_view_lists_only_the_chosen_values(dev):
    view = reviewed(dev, {"fake:index:Thing": ["colour"], "fake:index:Gone": ["x"]})
    assert view == {
        "fake:index:Gone": {},
        "fake:index:Thing": {"reader": {"colour": "green"}, "store": {"colour": None}},
    }


def test_inventory_round_trips_through_json(dev, tmp_path):
    path = tmp_path / "inventory.json"
    dev.write(path)
    assert Inventory.read(path).to_json() == dev.to_json()


def test_preview_command_writes_the_inventory_and_one_line(fake_project, monkeypatch, tmp_path, capsys):
    import refarch_pulumi.offline
    from tools import preview

    monkeypatch.setattr(refarch_pulumi.offline, "INVENTORY_DIR", tmp_path)
    assert preview.preview_stack(fake_project, "dev") is True
    written = tmp_path / "fake-dev.json"
    assert capsys.readouterr().out == (
        f"fake dev: resources=2 components=1 types=2 secrets_masked=1 inventory={written}\n"
    )
    assert [r.name for r in Inventory.read(tmp_path / "fake-dev.json")] == ["reader", "store", "tier"]


def test_preview_command_reports_a_refused_stack(fake_project, monkeypatch, capsys):
    (fake_project.directory / "Pulumi.broken.yaml").write_text("config:\n  refarch-fake:colour: red\n")
    try:
        assert fake_project.stacks() == ["dev", "prod", "broken"]
        from tools import preview

        assert preview.preview_stack(fake_project, "broken") is False
    finally:
        (fake_project.directory / "Pulumi.broken.yaml").unlink()
    err = capsys.readouterr().err
    assert "fake broken: environment 'broken' is invalid" in err


def test_runs_after_asyncio_run_left_no_current_loop(fake_project):
    import asyncio

    async def nothing() -> None:
        return None

    asyncio.run(nothing())  # leaves the main thread without a current event loop
    assert len(fake_project.preview("dev")) == 3


def test_stack_settings_errors_name_the_config_key_users_set():
    import pulumi
    from pydantic import BaseModel, Field

    from refarch.errors import SpecError
    from refarch_pulumi.stack import read_settings, stack_settings

    class Aliased(BaseModel):
        machine_type: str = Field(alias="machineType", pattern="^[a-z]+-[a-z0-9]+$")
        zones: list[str] = Field(alias="zones")

    pulumi.runtime.set_all_config({"proj:machineType": "big"})
    with pytest.raises(SpecError) as refused:
        stack_settings("dev", "proj", Aliased, read_settings(pulumi.Config("proj"), Aliased))
    assert [(p.field, p.value) for p in refused.value.problems] == [
        ("proj:machineType", "big"),
        ("proj:zones", "(unset)"),  # a missing key has no value to show, not the whole enclosing mapping
    ]


def test_references_are_the_mock_id_of_the_resource_referred_to(dev):
    from refarch_pulumi.offline import mock_id

    assert dev.named("reader").get("storeId") == mock_id("store")


def test_the_service_contract_names_variables_the_service_never_reads():
    from refarch.service_contract import parse_service_environment

    variables = {
        "CACHE_HOST": "cache",
        "STORE_BACKEND": "dynamodb",
        "ITEMS_TABLE": "items",
        "AWS_REGION": "eu-west-1",
        "CACHE_HOSTNAME": "typo",
    }
    config, unread = parse_service_environment(variables)
    assert config.cache_host == "cache" and unread == {"CACHE_HOSTNAME"}
