"""Where the service's logs go on Azure: the Azure Monitor Agent collects them as a custom text log (a data
collection rule reads the files `log_export.py` writes on every instance) into a custom table of the
workspace. No syslog daemon is needed, so no boot installs one ("Collect logs from a text file with Azure
Monitor Agent", learn.microsoft.com/azure/azure-monitor/agents/data-collection-log-text: a custom table, a
data collection rule with a logFiles source; a data collection endpoint only with Private Link)."""

from __future__ import annotations

import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights

from sample_service import log_fields

# Custom tables must end in _CL ("Collect text logs with Azure Monitor Agent", custom table).
TABLE = "SampleService_CL"
# The agent's incoming stream for a text log: each line whole in RawData; FilePath and Computer only when
# declared. The table has the same columns, and the rule's transformation keeps them.
COLUMNS = ("TimeGenerated", "RawData", "FilePath", "Computer")
STREAM = "Custom-Text-SampleService"
# One file a day, named by its UTC date, as the agent's documentation recommends.
LOG_DIRECTORY = "/var/log/sample-service"
FILE_PATTERN = f"{LOG_DIRECTORY}/*.log"
# "Wait for at least 2 days to allow ample time for all logs to be processed" before deleting a file.
KEEP_DAYS = 2
# The share of the instance's OS disk the files may take together (the fleet sets the disk's size): the
# oldest go first beyond it, so the logs never fill the disk. On the smallest disk (30 GiB) that is 9.7 GB,
# a whole day at 500 requests a second (~200 bytes a line, ~8.6 GB), and leaves the system and the journal
# (journald keeps at most 10% of the disk) the rest.
DISK_SHARE = 0.3
# The exporter runs as its own system user in the systemd-journal group, not as the service's user: code
# running as the service can neither signal nor trace it, nor read the journal through it.
EXPORTER_USER = "sample-service-logs"
# The agent stamps TimeGenerated with the time it reads a line: take the line's own time instead (the
# service's JSON key, bracketed because `time` is also a KQL timespan literal). Lines that carry none,
# such as systemd's plain-text ones, keep the agent's time. Only single-row operators and functions the
# transformation subset supports ("Supported KQL features in Azure Monitor transformations",
# learn.microsoft.com/azure/azure-monitor/essentials/data-collection-transformations-kql: extend,
# project-away, todatetime, parse_json, iif, isnull); project-away leaves exactly COLUMNS.
TRANSFORM_KQL = (
    f'source | extend t = todatetime(parse_json(RawData)["{log_fields.TIME}"])'
    " | extend TimeGenerated = iif(isnull(t), TimeGenerated, t) | project-away t"
)


def budget_bytes(os_disk_gib: int) -> int:
    """What the exported files may take together on an OS disk of `os_disk_gib`."""
    return int(os_disk_gib * 2**30 * DISK_SHARE)


def _is_time(column: str) -> bool:
    return column == "TimeGenerated"


def table_columns() -> list[dict[str, str]]:
    """The custom table's columns (the Tables API spells the type `dateTime`)."""
    return [
        {
            "name": column,
            "type": operationalinsights.ColumnTypeEnum.DATE_TIME
            if _is_time(column)
            else operationalinsights.ColumnTypeEnum.STRING,
        }
        for column in COLUMNS
    ]


def stream_columns() -> list[dict[str, str]]:
    """The rule's incoming stream (data collection rules spell it `datetime`)."""
    return [
        {
            "name": column,
            "type": monitor.KnownColumnDefinitionType.DATETIME
            if _is_time(column)
            else monitor.KnownColumnDefinitionType.STRING,
        }
        for column in COLUMNS
    ]
