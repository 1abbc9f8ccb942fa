"""Runs on every instance (python3 of the image, standard library only): follows the sample service's
journal and appends each message (the service's JSON log lines) to one file a day, LOG_DIRECTORY/<UTC
date>.log, which the Azure Monitor Agent collects as a custom text log. Files older than KEEP_DAYS are
deleted, once the agent has had the time its documentation asks for. So the agent collects the logs
without a syslog daemon, which Debian 12 images may lack and which no boot installs.

The files never take more than BUDGET_BYTES together (a share of the OS disk), so they cannot fill it: past
it the oldest files other than today's go first, whatever their age. Should today's file alone reach it,
the rest of the day's lines are dropped, and one line saying so (with the line's own time, at ERROR) is
the last the file gets until the next day's.

Restarts resume after the last entry written (the journal cursor is saved at most a second late, so a
crash can repeat a second of lines, never lose one). The journal's own timestamp picks the file, so a line
lands in the day it was logged. JOURNAL_COMMAND, LOG_DIRECTORY, CURSOR_FILE, KEEP_DAYS and BUDGET_BYTES exist
so the tests can run this against a stand-in journal.
"""

import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

LOG_DIRECTORY = Path(os.environ.get("LOG_DIRECTORY", "@{log_directory}"))
CURSOR_FILE = Path(os.environ.get("CURSOR_FILE", "/var/lib/sample-service-logs/cursor"))
KEEP_DAYS = int(os.environ.get("KEEP_DAYS", "@{keep_days}"))
BUDGET_BYTES = int(os.environ.get("BUDGET_BYTES", "@{budget_bytes}"))
# --follow alone would start at the last 10 entries: --lines=all starts at the unit's first (a saved cursor,
# given as --after-cursor, takes precedence over both).
JOURNAL_COMMAND = shlex.split(
    os.environ.get(
        "JOURNAL_COMMAND",
        "journalctl --unit=sample-service.service --follow --lines=all --output=json --all --no-pager",
    )
)
CURSOR_SAVE_SECONDS = 1.0


def message(entry: dict) -> str:
    """The entry's message: journald sends a message that is not valid UTF-8 as a list of bytes."""
    text = entry.get("MESSAGE", "")
    if isinstance(text, list):
        text = bytes(text).decode("utf-8", errors="replace")
    return str(text).replace("\n", " ")


def day_of(entry: dict) -> date:
    return datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, UTC).date()


def prune(today: date) -> None:
    oldest = today - timedelta(days=KEEP_DAYS)
    for path in LOG_DIRECTORY.glob("*.log"):
        try:
            if date.fromisoformat(path.stem) < oldest:
                path.unlink()
        except ValueError:
            continue  # not one of ours


def log_files() -> list[Path]:
    """Our files, oldest first."""
    files = []
    for path in LOG_DIRECTORY.glob("*.log"):
        try:
            files.append((date.fromisoformat(path.stem), path))
        except ValueError:
            continue  # not one of ours
    return [path for _, path in sorted(files)]


def make_room(current: Path, size: int) -> int:
    """Deletes the oldest files but `current` until `size` more bytes fit the budget; the bytes left."""
    files = [(path, path.stat().st_size) for path in log_files()]
    used = sum(length for _, length in files)
    for path, length in files:
        if used + size <= BUDGET_BYTES:
            break
        if path != current:
            path.unlink()
            used -= length
    return used


def over_budget(entry: dict) -> str:
    """The line that ends a day's file once it alone reaches the budget."""
    at = datetime.fromtimestamp(int(entry["__REALTIME_TIMESTAMP"]) / 1e6, UTC)
    warning = {
        "@{time_field}": at.isoformat(timespec="milliseconds"),
        "level": "ERROR",
        "logger": "log-export",
        "message": f"the log files reached their budget of {BUDGET_BYTES} bytes: the rest of today is lost",
    }
    return json.dumps(warning) + "\n"


def save_cursor(cursor: str) -> None:
    partial = CURSOR_FILE.with_suffix(".partial")
    partial.write_text(cursor)
    os.replace(partial, CURSOR_FILE)


def main() -> int:
    LOG_DIRECTORY.mkdir(parents=True, exist_ok=True)
    CURSOR_FILE.parent.mkdir(parents=True, exist_ok=True)
    command = list(JOURNAL_COMMAND)
    if CURSOR_FILE.exists() and CURSOR_FILE.read_text().strip():
        command.append(f"--after-cursor={CURSOR_FILE.read_text().strip()}")
    journal = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    day, out, cursor, saved_at = None, None, None, time.monotonic()
    used, dropping = 0, False
    for line in journal.stdout:
        entry = json.loads(line)
        if day_of(entry) != day:
            day = day_of(entry)
            if out:
                out.close()
            current = LOG_DIRECTORY / f"{day.isoformat()}.log"
            out = current.open("a", encoding="utf-8")
            prune(day)
            used, dropping = sum(path.stat().st_size for path in log_files()), False
        text = message(entry) + "\n"
        size = len(text.encode("utf-8"))
        if not dropping and used + size > BUDGET_BYTES:
            used = make_room(current, size)
            if used + size > BUDGET_BYTES:
                dropping = True
                out.write(over_budget(entry))
                out.flush()
                print(f"log-export: {current.name} reached {BUDGET_BYTES} bytes, dropping", file=sys.stderr)
        if not dropping:
            out.write(text)
            out.flush()
            used += size
        cursor = entry.get("__CURSOR", cursor)
        if cursor and time.monotonic() - saved_at >= CURSOR_SAVE_SECONDS:
            save_cursor(cursor)
            saved_at = time.monotonic()
    if cursor:
        save_cursor(cursor)
    # journalctl --follow never ends by itself: an end is a failure, and systemd starts this again.
    print(f"log-export: the journal ended ({journal.wait()})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
