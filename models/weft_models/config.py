"""Config dataclasses from JSON-like mappings: one place that rejects unknown keys, so a typo in a
config file fails before any work starts instead of being silently ignored."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    T = TypeVar("T", bound=DataclassInstance)
else:
    T = TypeVar("T")


def from_dict(
    cls: type[T],
    data: Mapping[str, Any],
    *,
    what: str,
    nested: Mapping[str, Callable[[Any], Any]] | None = None,
) -> T:
    """Build ``cls`` from ``data`` after rejecting keys that are not its fields.

    ``what`` names the config in the error (``"unknown {what} keys [...]; known: [...]"``);
    ``nested`` maps a field to the parser of its value (e.g. a sub-config's ``from_dict``),
    applied only where ``data`` has that key so the field's default stands otherwise.
    Validation beyond the key names is left to the caller.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {what} keys {sorted(unknown)}; known: {sorted(names)}")
    values = dict(data)
    for key, parse in (nested or {}).items():
        if key in values:
            values[key] = parse(values[key])
    return cls(**values)
