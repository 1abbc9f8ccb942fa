"""Which spec fields a piece of code reads: the evidence the parity table and the spec's own cross-field
rules rely on.

While `recording()` is active, every read of a spec section's field (`spec.capacity.min`) is noted with
the dotted path of the field and the file of the code that read it. Recordings nest: the innermost one
takes the reads, so the spec's validation (which reads every field) does not count as a renderer's use.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel


class Reads:
    """Dotted field paths read, each with the files of the code that read it."""

    def __init__(self) -> None:
        self.readers: dict[str, set[str]] = defaultdict(set)

    @property
    def paths(self) -> set[str]:
        return set(self.readers)

    def __contains__(self, path: str) -> bool:
        return path in self.readers


_stack: list[Reads] = []
_paths: dict[tuple[type, str], str] = {}


def _section(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The section (a model of its own) that field `name` of `model` holds, or None for a value."""
    annotation = model.model_fields[name].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def field_paths(model: type[BaseModel], prefix: str = "") -> dict[tuple[type, str], str]:
    """(section class, field name) -> dotted path, for every field of `model` and its sections."""
    paths: dict[tuple[type, str], str] = {}
    for name in model.model_fields:
        path = f"{prefix}{name}"
        paths[(model, name)] = path
        if section := _section(model, name):
            paths.update(field_paths(section, f"{path}."))
    return paths


def leaf_paths(model: type[BaseModel]) -> list[str]:
    """The dotted paths of `model`'s fields that hold values (`capacity.min`), not sections (`capacity`)."""
    return [path for (section, name), path in field_paths(model).items() if not _section(section, name)]


def _recording_getattribute(self: BaseModel, name: str):
    path = _paths.get((type(self), name))
    if path is not None and _stack:
        # The frame that asked for the attribute: the reader.
        _stack[-1].readers[path].add(sys._getframe(1).f_code.co_filename)
    return object.__getattribute__(self, name)


@contextmanager
def recording(root: type[BaseModel]) -> Iterator[Reads]:
    """Note the reads of `root`'s fields (any instance) until the block ends."""
    reads = Reads()
    paths = field_paths(root)
    sections = {cls for cls, _ in paths}
    patched = [cls for cls in sections if "__getattribute__" not in cls.__dict__]
    _paths.update(paths)
    for cls in patched:
        cls.__getattribute__ = _recording_getattribute
    _stack.append(reads)
    try:
        yield reads
    finally:
        _stack.pop()
        for cls in patched:
            del cls.__getattribute__
