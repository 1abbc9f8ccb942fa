"""The service's log rows carry the time the service logged them, not the time the agent read them: the
data collection rule's transformation parses each line's own time, within the KQL subset transformations
support, and leaves the table's columns."""

from __future__ import annotations

import copy
import json
import logging
import re
from datetime import datetime

import pytest

from refarch.inventory import Inventory
from sample_service.logs import JsonFormatter

# "Supported KQL features in Azure Monitor transformations"
# (learn.microsoft.com/azure/azure-monitor/essentials/data-collection-transformations-kql): single-row
# tabular operators, and the scalar functions used here, from its lists (conversion, dynamic, conditional).
SUPPORTED_OPERATORS = {"extend", "where", "project", "project-away", "project-rename", "parse", "let"}
SUPPORTED_FUNCTIONS = {"todatetime", "tostring", "parse_json", "iif", "case", "isnull", "isnotnull"}


def _flow(inventory: Inventory) -> dict:
    (flow,) = inventory.only("azure-native:monitor:DataCollectionRule").get("dataFlows")
    return flow


def _time_problems(inventory: Inventory) -> list[str]:
    rule = inventory.only("azure-native:monitor:DataCollectionRule")
    table = inventory.only("azure-native:operationalinsights:Table")
    flow = _flow(inventory)
    kql = flow.get("transformKql", "source")
    stages = [stage.strip() for stage in kql.split("|")]
    problems = []
    if stages[0] != "source":
        problems.append(f"the transformation does not start from source: {kql}")
    columns = [column["name"] for column in rule.get("streamDeclarations")[flow["streams"][0]]["columns"]]
    for stage in stages[1:]:
        operator, _, rest = stage.partition(" ")
        if operator not in SUPPORTED_OPERATORS:
            problems.append(f"{operator} is not supported in transformations")
        elif operator == "extend":
            name = rest.split("=", 1)[0].strip()
            columns += [] if name in columns else [name]
        elif operator == "project-away":
            columns = [column for column in columns if column not in {c.strip() for c in rest.split(",")}]
    for function in re.findall(r"([a-z_]+)\(", kql):
        if function not in SUPPORTED_FUNCTIONS:
            problems.append(f"{function}() is not supported in transformations")
    wanted = [column["name"] for column in table.get("schema.columns")]
    if columns != wanted:
        problems.append(f"the transformation leaves {columns}, the table has {wanted}")
    # TimeGenerated is the line's own time where the line has one, the agent's otherwise.
    record = logging.LogRecord("sample_service.access", logging.INFO, __file__, 1, "request", None, None)
    line = json.loads(JsonFormatter().format(record))
    keys = re.findall(r"TimeGenerated = iif\(isnull\((\w+)\), TimeGenerated, \1\)", kql)
    parsed = {
        name: key
        for name, key in re.findall(r'extend (\w+) = todatetime\(parse_json\(RawData\)\["(\w+)"\]\)', kql)
    }
    if not keys or keys[0] not in parsed:
        problems.append(f"TimeGenerated is not the line's parsed time, falling back to the agent's: {kql}")
    elif parsed[keys[0]] not in line:
        problems.append(f"the service's lines have no {parsed[keys[0]]!r}: {sorted(line)}")
    else:
        at = datetime.fromisoformat(line[parsed[keys[0]]])
        if at.utcoffset() is None or at.utcoffset().total_seconds() != 0:
            problems.append(f"the service's time {line[parsed[keys[0]]]} is not ISO 8601 in UTC")
    return problems


def test_time_generated_is_the_lines_own_time_and_the_columns_the_tables(inventory: Inventory):
    assert _time_problems(inventory) == []


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
@pytest.mark.parametrize(
    "old, new",
    [
        (None, "source"),  # main before this change: the agent's time
        ('["time"]', '["timestamp"]'),  # a key the service does not write
        ("| project-away t", ""),  # a column the table lacks
        ("iif(isnull(t), TimeGenerated, t)", "coalesce(t, TimeGenerated)"),  # not in the subset
        ("| project-away t", "| summarize count() by TimeGenerated"),  # acts on many rows
    ],
    ids=["ingestion-time", "other-key", "extra-column", "coalesce", "summarize"],
)
def test_a_transformation_that_loses_the_lines_time_or_the_tables_shape_fails(inventory, old, new):
    broken = copy.deepcopy(inventory)
    flow = _flow(broken)
    assert old is None or old in flow["transformKql"]
    flow["transformKql"] = new if old is None else flow["transformKql"].replace(old, new)
    assert _time_problems(broken) != []
