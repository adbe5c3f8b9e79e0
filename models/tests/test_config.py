"""The shared config reader: unknown keys are named with the known ones; nested parsers run only
for keys that are present, so defaults stand otherwise."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from weft_models.config import from_dict


@dataclass
class Inner:
    size: int = 1


@dataclass
class Outer:
    name: str = "a"
    inner: Inner = field(default_factory=Inner)


def parse_inner(data: Mapping[str, Any]) -> Inner:
    return from_dict(Inner, data, what="inner")


def test_builds_with_nested_parser_and_keeps_defaults() -> None:
    assert from_dict(Outer, {"inner": {"size": 3}}, what="outer", nested={"inner": parse_inner}) == Outer(inner=Inner(3))
    assert from_dict(Outer, {"name": "b"}, what="outer", nested={"inner": parse_inner}) == Outer(name="b")


def test_unknown_keys_are_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown outer keys \['nmae'\]; known: \['inner', 'name'\]"):
        from_dict(Outer, {"nmae": "b"}, what="outer")
    with pytest.raises(ValueError, match=r"unknown inner keys \['sise'\]"):
        from_dict(Outer, {"inner": {"sise": 2}}, what="outer", nested={"inner": parse_inner})
