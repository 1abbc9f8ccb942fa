"""Checks a runbook duration's formula ("interval 10 s x unhealthy threshold 3 = 30 s"): its arithmetic, read
from the text, gives each figure it states, and the last one is the duration's seconds."""

from __future__ import annotations

import math
import re

# Asides in parentheses hold no arithmetic ("(health-check grace)", "(20, 50, 100 %)", "pause(s)");
# ceil() does.
_CEIL = re.compile(r"ceil\(([^()]*)\)")
_ASIDE = re.compile(r"\([^()]*\)")
# A number (in ms when so marked), or an operator: `x` and `-` only as words, not inside "point-in-time".
_TOKEN = re.compile(r"(\d+(?:\.\d+)?)(\s*ms\b)?|(?<!\S)x(?!\S)|(?<!\S)-(?!\S)|[*/+]|CEIL\[|\]")


def value(segment: str) -> float | None:
    """The segment's arithmetic, words dropped; None when it holds no number (a name: "boot budget")."""
    expression = []
    for match in _TOKEN.finditer(segment):
        number, millis = match.group(1), match.group(2)
        if number is not None:
            expression.append(f"({number} / 1000)" if millis else number)
        else:
            expression.append({"x": "*", "CEIL[": "ceil(", "]": ")"}.get(match.group(0), match.group(0)))
    if not expression:
        return None
    return float(eval(" ".join(expression), {"__builtins__": {}}, {"ceil": math.ceil}))


def first_number(segment: str) -> float | None:
    match = _TOKEN.search(segment)
    return None if match is None or match.group(1) is None else value(match.group(0))


def problems(formula: str, seconds: float) -> list[str]:
    text = _CEIL.sub(r"CEIL[\1]", formula)
    while _ASIDE.search(text):
        text = _ASIDE.sub("", text)
    if seconds == 0:
        return [] if "not estimated" in formula else [f"{formula!r}: 0 s without saying it is not estimated"]
    segments = text.split("=")
    if len(segments) < 2:
        return [f"{formula!r}: no arithmetic (no `=`)"]
    try:
        values = [value(segment) for segment in segments]
    except SyntaxError:
        return [f"{formula!r}: not arithmetic"]
    found = []
    if values[-1] is None or not math.isclose(values[-1], seconds):
        found.append(f"{formula!r}: ends in {values[-1]}, the duration is {seconds} s")
    for index in range(len(segments) - 1):
        here, after = values[index], values[index + 1]
        # Each figure is what the next states: its whole value, or its first number (a count the next
        # multiplies: "ceil(12 / 3) = 4 waves x 650 s").
        if here is not None and not (
            math.isclose(here, after or math.nan)
            or math.isclose(here, first_number(segments[index + 1]) or math.nan)
        ):
            found.append(
                f"{formula!r}: {segments[index].strip()!r} is {here}, not {segments[index + 1].strip()!r}"
            )
    return found
