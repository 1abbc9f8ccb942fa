"""The dated price table (tools/docs/prices.toml): one entry per priced resource type and item (instance
type, node type, SKU), each with its source and the date it was read, or an explicit reason a type is not
priced. The reliability report's monthly estimate reads nothing else."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from tools.docs.model import CostLine

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

    def line(
        self,
        cloud: str,
        type_: str,
        item: str = "",
        *,
        resource: str,
        quantity: float,
        missing: str,
        unit: str | None = None,
        hourly: bool = False,
    ) -> CostLine:
        """One cost line: `quantity` of `type_` (and `item`) at the table's price, or not priced with the
        table's reason (`missing` when it has none). `unit` says what `quantity` counts; None: the price's
        own unit (or the item, "each", when not priced). `hourly`: `quantity` counts units kept all month,
        at a price per hour."""
        price = self.find(cloud, type_, item)
        if price is None:
            return CostLine(
                resource=resource,
                type=type_,
                quantity=quantity,
                unit=unit if unit is not None else item or "each",
                unit_price=None,
                monthly=None,
                source="tools/docs/prices.toml",
                note=self.not_priced.get((cloud, type_), missing),
            )
        hours = f"x {HOURS_PER_MONTH} h" if hourly else ""
        return CostLine(
            resource=resource,
            type=type_,
            quantity=quantity,
            unit=unit if unit is not None else f"{price.unit} {hours}".strip(),
            unit_price=price.price,
            monthly=round(quantity * price.price * (HOURS_PER_MONTH if hourly else 1), 2),
            source=price.cited,
            note=price.checked,
        )

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
