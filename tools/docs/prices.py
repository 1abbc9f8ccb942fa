"""The dated price table (tools/docs/prices.toml): one entry per priced resource type and item (instance
type, node type, SKU), each with its source and the date it was read, or an explicit reason a type is not
priced. The reliability report's monthly estimate reads nothing else."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

PRICES = Path(__file__).resolve().parent / "prices.toml"
# Hours in an average month (8760 / 12), the figure the providers' calculators use.
HOURS_PER_MONTH = 730


@dataclass(frozen=True, kw_only=True)
class Price:
    cloud: str
    type: str
    item: str  # "" when the price does not depend on a size or SKU
    region: str
    unit: str
    price: float
    source: str
    date: str
    # How the price was checked, offline (a corroborating page, or that it is the maintainer's reading).
    checked: str = ""
    # The machine-readable dataset the price was read from (generated from the provider's price API), pinned
    # to a commit; "" when it was read from `source` itself.
    dataset: str = ""

    @property
    def cited(self) -> str:
        """Where the report says the price comes from."""
        read = f"; read from {self.dataset}" if self.dataset else ""
        return f"{self.source} ({self.date}){read}"


@dataclass(frozen=True)
class PriceTable:
    date: str
    currency: str
    prices: tuple[Price, ...]
    # (cloud, type) -> why it is not priced
    not_priced: dict[tuple[str, str], str]

    def find(self, cloud: str, type_: str, item: str = "") -> Price | None:
        for price in self.prices:
            if (price.cloud, price.type, price.item) == (cloud, type_, item):
                return price
        return None

    def in_region(self, region: str) -> PriceTable:
        """The prices read for one region: a stack is priced only from these."""
        return replace(self, prices=tuple(price for price in self.prices if price.region == region))

    def covers(self, cloud: str, type_: str) -> bool:
        """Whether a resource type has a price or a reason it has none (the coverage test asks this)."""
        return (cloud, type_) in self.not_priced or any(
            (price.cloud, price.type) == (cloud, type_) for price in self.prices
        )


def load(path: Path = PRICES) -> PriceTable:
    data = tomllib.loads(path.read_text())
    prices = tuple(Price(**entry) for entry in data.get("price", []))
    not_priced = {(entry["cloud"], entry["type"]): entry["reason"] for entry in data.get("not_priced", [])}
    return PriceTable(data["date"], data["currency"], prices, not_priced)
