"""Every resource type of every generated stack has a price in tools/docs/prices.toml or an explicit
reason it has none; each price names its source and date."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
import yaml

from refarch import ROOT
from refarch.spec import load_all
from tools.docs import prices
from tools.docs.aws import costs as aws_costs
from tools.docs.aws import template as aws_template
from tools.docs.aws.facts import ASG as AWS_GROUP
from tools.docs.azure import costs as azure_costs
from tools.docs.azure import inventory as azure_inventory
from tools.docs.gcp import costs as gcp_costs
from tools.docs.gcp import inventory as gcp_inventory


def resource_types(stack) -> set[str]:
    return {resource.type for resource in stack.facts.resources}


def test_every_resource_type_is_priced_or_says_why_not(generated):
    table = prices.load()
    missing = sorted(
        f"{stack.facts.cloud} {type_}"
        for stack in generated
        for type_ in resource_types(stack)
        if not table.covers(stack.facts.cloud, type_)
    )
    assert not missing, f"add a [[price]] or [[not_priced]] entry to tools/docs/prices.toml for {missing}"


def test_a_new_resource_type_without_an_entry_is_caught(generated, tmp_path):
    text = prices.PRICES.read_text()
    # Drop the NAT gateway's price: its type is in the stacks and now has neither a price nor a reason.
    trimmed = re.sub(
        r'\[\[price\]\]\ncloud = "aws"\ntype = "AWS::EC2::NatGateway"\n(?:[a-z]+ = .*\n)+', "", text
    )
    assert trimmed != text
    path = tmp_path / "prices.toml"
    path.write_text(trimmed)
    table = prices.load(path)
    assert not table.covers("aws", "AWS::EC2::NatGateway")


def test_every_price_is_dated_and_sourced():
    table = prices.load()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.date)
    for price in table.prices:
        assert price.source.startswith("https://"), price
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", price.date), price
        assert price.price > 0, price
    assert all(reason.strip() for reason in table.not_priced.values())


# Where each Pulumi stack is deployed, from its own stack config (what the price must be read for).
REGION_KEYS = {"gcp": "gcp:region", "azure": "azure-native:location"}


def stack_region(cloud: str, environment: str) -> str:
    if cloud == "aws":
        return json.loads((ROOT / "cdk.json").read_text())["context"]["region"]
    config = yaml.safe_load((ROOT / "pulumi" / cloud / f"Pulumi.{environment}.yaml").read_text())["config"]
    return config[REGION_KEYS[cloud]]


def line_of(stack, type_: str):
    (line,) = [line for line in stack.facts.cost_lines if line.type == type_]
    return line


def test_every_gcp_fleet_line_is_priced_at_the_specs_machine_type_and_minimum(generated):
    table = prices.load()
    specs = load_all()
    gcp = [stack for stack in generated if stack.facts.cloud == "gcp"]
    assert gcp
    for stack in gcp:
        spec = specs[stack.facts.environment]
        region = stack_region("gcp", stack.facts.environment)
        price = table.in_region(region).find("gcp", gcp_inventory.GROUP, spec.gcp.machine_type)
        assert price is not None, f"no price for {spec.gcp.machine_type} in {region}"
        line = line_of(stack, gcp_inventory.GROUP)
        hours = spec.capacity.min * prices.HOURS_PER_MONTH
        assert (line.quantity, line.unit_price) == (hours, price.price), stack.facts.environment
        assert line.monthly == round(hours * price.price, 2)
        assert spec.gcp.machine_type in line.resource and price.dataset in line.source


def nat_cap_problems(price: prices.Price, cap: int) -> list[str]:
    """The NAT price's words about the per-VM cap that do not say `cap` (the code's NAT_BILLED_VMS)."""
    said = {
        "unit": re.findall(r"up to (\d+) VMs", price.unit),
        "checked": re.findall(r"rate x (\d+), the cap", price.checked)
        + re.findall(r"/ (\d+) = [\d.]+ per VM-hour", price.checked),
    }
    found = [f"{field}: no cap stated" for field, numbers in said.items() if not numbers]
    return found + [
        f"{field} says {n}, the code {cap}"
        for field, numbers in said.items()
        for n in numbers
        if int(n) != cap
    ]


def test_the_nat_price_states_the_codes_cap():
    price = prices.load().find("gcp", gcp_inventory.NAT)
    assert price is not None
    assert not nat_cap_problems(price, gcp_costs.NAT_BILLED_VMS)
    assert nat_cap_problems(price, gcp_costs.NAT_BILLED_VMS + 1)
    assert nat_cap_problems(replace(price, unit="VM-hour served"), gcp_costs.NAT_BILLED_VMS)


def test_every_gcp_nat_line_bills_the_vms_it_serves(generated):
    table = prices.load()
    specs = load_all()
    for stack in (stack for stack in generated if stack.facts.cloud == "gcp"):
        spec = specs[stack.facts.environment]
        region = stack_region("gcp", stack.facts.environment)
        price = table.in_region(region).find("gcp", gcp_inventory.NAT)
        served = min(spec.capacity.min, gcp_costs.NAT_BILLED_VMS) * prices.HOURS_PER_MONTH
        line = line_of(stack, gcp_inventory.NAT)
        assert (line.quantity, line.monthly) == (served, round(served * price.price, 2))


def test_every_priced_line_is_the_tables_price_for_the_stacks_region_times_its_quantity(generated):
    table = prices.load()
    checked = set()
    for stack in generated:
        region = stack_region(stack.facts.cloud, stack.facts.environment)
        for line in stack.facts.cost_lines:
            if line.unit_price is None:
                continue
            assert any(
                (price.cloud, price.type, price.region, price.price)
                == (stack.facts.cloud, line.type, region, line.unit_price)
                for price in table.prices
            ), line
            # AWS lines count units and say "x 730 h" when the price is hourly; the others count hours.
            hours = prices.HOURS_PER_MONTH if line.unit.endswith(f"x {prices.HOURS_PER_MONTH} h") else 1
            assert line.monthly == round(line.quantity * line.unit_price * hours, 2), line
            checked.add(stack.facts.cloud)
    assert checked == {"aws", "gcp"}, checked


def _priced_lines(cloud: str, environment: str, model, table: prices.PriceTable):
    """The cost lines of one stack as its facts compute them, from `table`."""
    if cloud == "aws":
        template = aws_template.Template(environment, model)
        minimum = int(template.prop(AWS_GROUP, "MinSize"))
        return aws_costs.cost_lines(template, table, minimum, stack_region(cloud, environment))
    if cloud == "azure":
        return azure_costs.lines(model, table)
    minimum = int(model.only(gcp_inventory.AUTOSCALER).get("autoscalingPolicy.minReplicas"))
    return gcp_costs.lines(model, table, stack_region(cloud, environment), minimum)


def _with_azure_price(table: prices.PriceTable, model, region: str) -> prices.PriceTable:
    """`table` with a price for the scale set's VM size in `region`: the table has no Azure price (each
    type says why), so without one the filter has nothing to drop. The figure only needs to be non-zero."""
    size = model.only(azure_inventory.SCALE_SET).get("sku.name")
    price = prices.Price(
        cloud="azure",
        type=azure_inventory.SCALE_SET,
        item=size,
        region=region,
        unit="per hour",
        price=1.0,
        source="the test",
        date=table.date,
    )
    return replace(table, prices=(*table.prices, price))


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_a_price_read_for_another_region_prices_nothing(docs_inputs, cloud):
    for environment, model in docs_inputs.models[cloud].items():
        region = stack_region(cloud, environment)
        table = prices.load()
        if cloud == "azure":
            table = _with_azure_price(table, model, region)
        moved = tuple(replace(price, region=f"not-{region}") for price in table.prices)
        elsewhere = replace(table, prices=moved)
        assert any(line.monthly for line in _priced_lines(cloud, environment, model, table)), environment
        assert not any(line.monthly for line in _priced_lines(cloud, environment, model, elsewhere)), (
            environment
        )


PINNED = r"https://github\.com/[^/]+/[^/]+/blob/[0-9a-f]{40}/\S+"


def test_every_dataset_is_pinned_to_a_commit():
    for price in prices.load().prices:
        if price.dataset:
            assert re.fullmatch(PINNED, price.dataset), price
