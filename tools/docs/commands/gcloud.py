"""gcloud commands checked against one reviewed table of the command surfaces the runbooks use
(gcloud_surfaces.toml, each entry with its reference page): there is no offline gcloud to ask.

A command must name a listed surface (on its release track); every flag must be one of that surface's, a
list command's own, or a gcloud-wide flag; required flags and exactly-one-of groups must be present, at most
one flag of each exclusive group; an enum flag's value must be one the reference lists; and the positional
arguments must number what the surface takes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SURFACES = Path(__file__).resolve().parent / "gcloud_surfaces.toml"
TRACKS = {"alpha": "ALPHA", "beta": "BETA"}


@dataclass(frozen=True)
class Surface:
    command: tuple[str, ...]
    track: str
    positionals: tuple[str, ...]
    flags: dict[str, dict]
    doc: str
    one_of: tuple[tuple[str, ...], ...]
    at_most_one: tuple[tuple[str, ...], ...]
    list: bool
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    cli: str
    checked: str
    global_flags: frozenset[str]
    list_flags: frozenset[str]
    surfaces: tuple[Surface, ...]


def load(path: Path = SURFACES) -> Table:
    data = tomllib.loads(path.read_text())
    surfaces = tuple(
        Surface(
            command=tuple(entry["command"].split()),
            track=entry["track"],
            positionals=tuple(entry["positionals"]),
            flags=entry.get("flags", {}),
            doc=entry["doc"],
            one_of=tuple(tuple(group) for group in entry.get("one_of", ())),
            at_most_one=tuple(tuple(group) for group in entry.get("at_most_one", ())),
            list=entry.get("list", False),
            permissions=tuple(entry["permissions"]),
        )
        for entry in data["surface"]
    )
    return Table(
        cli=data["cli"],
        checked=data["checked"],
        global_flags=frozenset(data["global_flags"]),
        list_flags=frozenset(data["list_flags"]),
        surfaces=surfaces,
    )


@cache
def table() -> Table:
    return load()


def _surface(words: list[str], track: str, surfaces: tuple[Surface, ...]) -> Surface | None:
    """The longest listed command path the words start with, on the given track."""
    found = [
        surface
        for surface in surfaces
        if surface.track == track and tuple(words[: len(surface.command)]) == surface.command
    ]
    return max(found, key=lambda surface: len(surface.command), default=None)


def surface_of(argv: list[str], surfaces: Table | None = None) -> Surface | None:
    """The listed surface a gcloud command runs (for the permissions it needs), or None."""
    args = argv[1:]
    track = "GA"
    if args and args[0] in TRACKS:
        track, args = TRACKS[args[0]], args[1:]
    words = [arg for arg in args if not arg.startswith("-")]
    return _surface(words, track, (surfaces or table()).surfaces)


def validate(argv: list[str], surfaces: Table | None = None) -> list[str]:
    """Every problem with one gcloud command (argv[0] == "gcloud"); [] when it parses."""
    surfaces = surfaces or table()
    args = argv[1:]
    track = "GA"
    if args and args[0] in TRACKS:
        track, args = TRACKS[args[0]], args[1:]
    words = [arg for arg in args if not arg.startswith("-")]
    surface = _surface(words, track, surfaces.surfaces)
    if surface is None:
        path = " ".join(words[:5])
        return [f"`gcloud {path}` ({track}) is not a surface listed in {SURFACES.name}"]
    rest = args[len(surface.command) :]
    problems: list[str] = []
    given: dict[str, str | None] = {}
    positionals: list[str] = []
    index = 0
    while index < len(rest):
        arg = rest[index]
        index += 1
        if not arg.startswith("--"):
            positionals.append(arg)
            continue
        name, equals, value = arg.partition("=")
        spec = surface.flags.get(name)
        if spec is None:
            allowed = surfaces.global_flags | (surfaces.list_flags if surface.list else frozenset())
            if name not in allowed:
                path = " ".join(surface.command)
                problems.append(f"{name} is not a flag of `gcloud {path}` ({surface.doc})")
                continue
            spec = {"value": "text"}
        if spec["value"] == "none":
            if equals:
                problems.append(f"{name} is a switch and takes no value")
            given[name] = None
            continue
        if not equals:
            if index >= len(rest):
                problems.append(f"{name} needs a value")
                continue
            value = rest[index]
            index += 1
        given[name] = value
        if isinstance(spec["value"], list) and not value.startswith("$") and value not in spec["value"]:
            problems.append(f"{name}={value} is not one of {', '.join(spec['value'])}")
    for name, spec in surface.flags.items():
        if spec.get("required") and name not in given:
            problems.append(f"{name} is required by `gcloud {' '.join(surface.command)}`")
    for group in surface.one_of:
        if sum(flag in given for flag in group) != 1:
            problems.append(f"exactly one of {', '.join(group)} is required")
    for group in surface.at_most_one:
        if sum(flag in given for flag in group) > 1:
            problems.append(f"at most one of {', '.join(group)} may be given")
    if len(positionals) != len(surface.positionals):
        wanted = " ".join(surface.positionals) or "no positional argument"
        problems.append(f"takes {wanted}, got {positionals or 'none'}")
    return problems
