"""The fast encoder gives exactly the bytes of Python's json in OSA's layout, or is not used."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import require_shared_dir
from osa_inventory import jsonio
from osa_inventory.jsonio import dumps_inventory, dumps_inventory_bytes, json_dumps_inventory

orjson = pytest.importorskip("orjson")

TEXT = st.one_of(
    st.text(st.characters(codec="ascii"), max_size=12),  # control characters, quotes, DEL
    st.text(max_size=12),  # anything else, surrogates included
    st.lists(st.sampled_from(["a", " ", "  ", "\t", "\n", "\u2028", "é", "😀", "\x7f"])).map(
        "".join
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e16, -0.0, 0.0, 1e-7, 1.5, 1e308, 5e-324, 123456789012345680.0]),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(TEXT, children, max_size=4),
    ),
    max_leaves=30,
)


def reference(value: Any) -> bytes:
    return json_dumps_inventory(value).encode("ascii")


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_same_bytes_as_json_for_any_value(value: Any) -> None:
    assert dumps_inventory_bytes(value) == reference(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(TEXT, VALUES, max_size=6))
def test_same_text_as_json_for_any_inventory(inventory: dict[str, Any]) -> None:
    assert dumps_inventory(inventory) == json_dumps_inventory(inventory)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"a": {}, "b": [], "c": [[]], "d": [{}]},
        {"x": 2**64, "y": -(2**63) - 1},  # beyond orjson's integers
        {"x": math.nan, "y": math.inf, "z": -math.inf},  # orjson would write null
        {"x": 1e16, "y": -0.0, "z": 1e-7},
        {"two  spaces": "a  b", "c": {"d": ["   "]}},
        {"é": "ü", "emoji": "😀", "del": "\x7f", "ctl": '\x00\x1f\b\f\n\r\t"\\/'},
        {"surrogate": "\ud800"},
        {"deep": [[[[[[[[[[[[{"k": [1, 2.5, None, True, False]}]]]]]]]]]]]]},
    ],
)
def test_edge_cases(value: Any) -> None:
    assert dumps_inventory_bytes(value) == reference(value)


def test_values_json_refuses_are_refused_alike() -> None:
    for value in ({"when": datetime.date(2024, 1, 1)}, {"s": {1, 2}}, {"b": b"bytes"}):
        with pytest.raises(TypeError):
            json_dumps_inventory(value)
        with pytest.raises(TypeError):
            dumps_inventory_bytes(value)


def test_non_string_keys_are_written_as_json_writes_them() -> None:
    value = {"b": {1: "x", 2: "y"}}
    assert dumps_inventory_bytes(value) == reference(value)


def test_the_fast_path_is_taken_for_an_osa_inventory() -> None:
    """The fast path itself (not json behind it) gives a real inventory's bytes."""
    inventory = json.loads((_examples()[0] / "reference" / "run3.json").read_bytes())
    assert jsonio._fast_dumps(inventory) == reference(inventory)


def test_without_orjson_json_does_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonio, "orjson", None)
    value = {"b": [1, 2.5, None], "a": "é"}
    assert jsonio._fast_dumps(value) is None
    assert dumps_inventory_bytes(value) == reference(value)


def _examples() -> list[Path]:
    examples = sorted(p for p in (require_shared_dir() / "examples").iterdir() if p.is_dir())
    assert examples
    return examples


def test_every_shared_example_is_byte_identical() -> None:
    """Every reference inventory under ../shared/osa/examples, re-encoded, is the same bytes."""
    checked = 0
    for example in _examples():
        for path in sorted((example / "reference").glob("*.json")):
            inventory = json.loads(path.read_bytes())
            assert jsonio._fast_dumps(inventory) == reference(inventory), path
            checked += 1
    assert checked >= len(_examples())
