"""Typed, range-checked settings: the one schema a config is validated against, before any work.

A dataclass declares each field with `setting(kind, default, ...)` (its type, its range or its
choices) and calls `check(self)` in `__post_init__`. A value of the wrong type ("30" or 30.5 or
1e9 for an integer, true for a number, NaN for a float) or outside its range raises a
SettingError naming the field and what it accepts, so a mistyped option or a hand-edited
config.json gets one plain sentence instead of a model built from nonsense.
"""
from __future__ import annotations

import dataclasses
import math


class SettingError(ValueError):
    """A setting of the wrong type or outside its range; `field` names it, `accepts` says what fits."""

    def __init__(self, field: str, accepts: str, value):
        self.field, self.accepts, self.value = field, accepts, value
        super().__init__(f"{field} must be {accepts}, got {value!r}")


def setting(kind: type, default, *, low=None, high=None, above=None, choices=None,
            optional: bool = False):
    """A dataclass field of type `kind` (int, float, str or bool) with its allowed values:
    `low`..`high` inclusive, strictly `above` a bound, one of `choices`, or None if `optional`."""
    return dataclasses.field(default=default, metadata={
        "kind": kind, "low": low, "high": high, "above": above,
        "choices": tuple(choices) if choices is not None else None, "optional": optional})


def accepts(field: dataclasses.Field) -> str:
    """What a field accepts, in words: 'an integer from 1 to 1000', "one of 'lstm', 'gru'"."""
    rule = field.metadata
    if rule["choices"] is not None:
        words = "one of " + ", ".join(repr(choice) for choice in rule["choices"])
    elif rule["kind"] is bool:
        words = "true or false"
    else:
        words = {int: "an integer", float: "a finite number", str: "a string"}[rule["kind"]]
        bounds = [f"above {rule['above']}"] if rule["above"] is not None else []
        if rule["low"] is not None and rule["high"] is not None:
            bounds.append(f"from {rule['low']} to {rule['high']}")
        elif rule["low"] is not None:
            bounds.append(f"of at least {rule['low']}")
        elif rule["high"] is not None:
            bounds.append(f"at most {rule['high']}")
        words = " ".join([words, " and ".join(bounds)]) if bounds else words
    return words + (" (or none)" if rule["optional"] else "")


def _fits(rule, value) -> bool:
    kind = rule["kind"]
    if kind is bool:
        return type(value) is bool
    if kind is int and (type(value) is not int):  # bool is an int to Python, not to a config
        return False
    if kind is float and (type(value) not in (int, float) or not math.isfinite(value)):
        return False
    if kind is str and not isinstance(value, str):
        return False
    if rule["choices"] is not None and value not in rule["choices"]:
        return False
    if rule["above"] is not None and not value > rule["above"]:
        return False
    return (rule["low"] is None or value >= rule["low"]) and (rule["high"] is None or value <= rule["high"])


def check(config) -> None:
    """Raise SettingError for the first field of the dataclass `config` that its setting refuses."""
    for field in dataclasses.fields(config):
        if "kind" not in field.metadata:
            continue
        value = getattr(config, field.name)
        if value is None and field.metadata["optional"]:
            continue
        if not _fits(field.metadata, value):
            raise SettingError(field.name, accepts(field), value)


def from_json(cls, data, what: str):
    """An instance of the dataclass `cls` from a parsed JSON object, refusing anything else:
    a list or a string, unknown fields, and (through `check`) wrong types and ranges."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be a JSON object of settings, got a {type(data).__name__}")
    unknown = set(data) - {field.name for field in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"{what} has unknown fields {sorted(map(str, unknown))}")
    return cls(**data)
