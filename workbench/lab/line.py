"""One copyable line per lab run: ``wb1:model=cnn;width=64;...;seed=0`` carries every setting, so pasting it
into the lab (``LabSettings.from_line``) restores the run, and the same line on the same data and
machine gives the same curve (the seed is in it; ``fit`` is seeded).

``wb1`` is the format's version. Fields are the ``LabSettings`` field names in their order; floats are
written with ``repr`` (they read back bit for bit), ``none`` is None. A line from an older version that
lacks a newer field gets that field's default, which is how such a run trained.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .settings import LabSettings

__all__ = ["PREFIX", "from_line", "to_line"]

PREFIX = "wb1:"


def to_line(settings: LabSettings) -> str:
    """``settings`` as one line: ``wb1:model=mlp;width=64;...``."""
    parts = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        text = "none" if value is None else repr(value) if isinstance(value, float) else str(value)
        parts.append(f"{f.name}={text}")
    return PREFIX + ";".join(parts)


def _kind(hint: Any) -> tuple[type, bool]:
    """(int | float | str, whether None is allowed) from a field's type hint."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    base = next(a for a in args if a is not type(None))
    return base, type(None) in args


_NAMES = {int: "an int", float: "a float", str: "a string"}


def from_line(line: str) -> LabSettings:
    """The ``LabSettings`` of a ``to_line`` line; a bad line raises ``ValueError`` naming its field."""
    from .settings import LabSettings

    if not isinstance(line, str) or not line.strip().startswith(PREFIX):
        raise ValueError(
            f"A workbench run line starts with {PREFIX!r} (copy it from the lab's run line). "
            f"Got {line!r} instead."
        )
    body = line.strip()[len(PREFIX) :]
    fields = {f.name: f for f in dataclasses.fields(LabSettings)}
    hints = typing.get_type_hints(LabSettings)
    values: dict[str, Any] = {}
    for item in filter(None, body.split(";")):
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or name not in fields:
            raise ValueError(
                f"The run line has an unknown field {item!r}; its fields are {', '.join(fields)} "
                "(name=value, separated by ';')."
            )
        if name in values:
            raise ValueError(f"The run line gives the field {name!r} twice.")
        kind, optional = _kind(hints[name])
        if optional and text.lower() == "none":
            values[name] = None
            continue
        try:
            values[name] = kind(text) if kind is not int else int(text, 10)
        except ValueError:
            raise ValueError(
                f"The run line's field {name!r} must be {_NAMES.get(kind, kind.__name__)}"
                f"{' or none' if optional else ''}. Got {text!r} instead."
            ) from None
    try:
        return LabSettings(**values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"The run line has a bad value: {err}") from None
