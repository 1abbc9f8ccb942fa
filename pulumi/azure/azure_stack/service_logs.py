"""Where the service's logs go on Azure: the Azure Monitor Agent collects them as a custom text log (a data
collection rule reads the files `log_export.py` writes on every instance) into a custom table of the
workspace. No syslog daemon is needed, so no boot installs one ("Collect logs from a text file with Azure
Monitor Agent", learn.microsoft.com/azure/azure-monitor/agents/data-collection-log-text: a custom table, a
data collection rule with a logFiles source; a data collection endpoint only with Private Link)."""

from __future__ import annotations

import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights

# Custom tables must end in _CL ("Collect text logs with Azure Monitor Agent", custom table).
TABLE = "SampleService_CL"
# The agent's incoming stream for a text log: each line whole in RawData; FilePath and Computer only when
# declared. The table has the same columns, so the rule's transformation is `source`.
COLUMNS = ("TimeGenerated", "RawData", "FilePath", "Computer")
STREAM = "Custom-Text-SampleService"
# One file a day, named by its UTC date, as the agent's documentation recommends.
LOG_DIRECTORY = "/var/log/sample-service"
FILE_PATTERN = f"{LOG_DIRECTORY}/*.log"
# "Wait for at least 2 days to allow ample time for all logs to be processed" before deleting a file.
KEEP_DAYS = 2


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
