"""Every resource type of every generated stack has a price in tools/docs/prices.toml or an explicit
reason it has none; each price names its source and date."""

from __future__ import annotations

import re

from tools.docs import prices


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
