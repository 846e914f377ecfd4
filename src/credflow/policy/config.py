"""Loading policies from a dict, JSON or TOML, with errors that name the field.

A policy configuration is either ``{"preset": "classic"}`` / ``{"preset": "nist"}`` or
``{"rules": [{"rule": "min_length", "min": 8}, ...]}``. A whole portal file may hold it under a
``password_policy`` key, beside other sections (``answer_policy`` …).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from credflow.errors import ConfigurationError
from credflow.policy.rules import (
    Digit,
    History,
    Lowercase,
    MaxLength,
    MinLength,
    MinStrength,
    NoSequence,
    NotBreached,
    NotCommon,
    NotIdentifier,
    Rule,
    Special,
    Uppercase,
)

__all__ = [
    "RULE_TYPES",
    "format_validation_error",
    "parse_json",
    "parse_toml",
    "policy_section",
    "read_document",
]

RULE_TYPES: tuple[type[Rule], ...] = (
    MaxLength,
    MinLength,
    Lowercase,
    Uppercase,
    Digit,
    Special,
    NotIdentifier,
    NotCommon,
    NoSequence,
    NotBreached,
    History,
    MinStrength,
)
_TAGS = frozenset(rule_type.model_fields["rule"].default for rule_type in RULE_TYPES)

RuleSpec = Annotated[
    MaxLength
    | MinLength
    | Lowercase
    | Uppercase
    | Digit
    | Special
    | NotIdentifier
    | NotCommon
    | NoSequence
    | NotBreached
    | History
    | MinStrength,
    Field(discriminator="rule"),
]


class PolicyConfig(BaseModel):
    """The validated shape of a password policy configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: Literal["classic", "nist"] | None = None
    rules: list[RuleSpec] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PolicyConfig:
        if (self.preset is None) == (self.rules is None):
            raise ValueError("give either 'preset' or 'rules'")
        return self


def format_validation_error(error: ValidationError, prefix: str = "") -> ConfigurationError:
    """Turn a pydantic error into a ConfigurationError whose ``field`` is a readable path."""
    problems = []
    first_field = None
    for item in error.errors(include_url=False, include_input=False):
        path = _path(item["loc"], prefix)
        if item["type"] == "union_tag_invalid":
            path = f"{path}.rule" if path else "rule"
            tag = item.get("ctx", {}).get("tag", "?")
            message = f"unknown rule {tag!r}; expected one of {', '.join(sorted(_TAGS))}"
        else:
            message = item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        first_field = first_field or path
        problems.append(f"{path}: {message}" if path else message)
    for item in error.errors(include_url=False, include_input=False):
        original = item.get("ctx", {}).get("error")
        if isinstance(original, ConfigurationError):  # keep MissingDependency and the like
            return original
    exc = ConfigurationError("; ".join(problems))
    exc.field = first_field or None
    return exc


def _path(loc: Sequence[int | str], prefix: str) -> str:
    out = prefix
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(previous, int) and part in _TAGS:
            pass  # the discriminator tag pydantic inserts after a list index
        else:
            out += f".{part}" if out else part
        previous = part
    return out


def policy_from_mapping(data: Mapping[str, Any]) -> list[Rule]:
    """Validate ``data`` and return the rules it describes."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"expected a mapping, got {type(data).__name__}")
    try:
        config = PolicyConfig.model_validate(dict(data))
    except ValidationError as error:
        raise format_validation_error(error) from None
    if config.preset is not None:
        from credflow.policy import presets

        return list(presets.PRESETS[config.preset]().rules)
    assert config.rules is not None
    return list(config.rules)


def policy_section(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``password_policy`` table of a portal document, or the document itself when it is a
    bare policy (``rules`` or ``preset`` at the top)."""
    if "password_policy" not in document and not {"rules", "preset"} & set(document):
        raise ConfigurationError("no [password_policy] table in this file", field="password_policy")
    inner = document.get("password_policy", document)
    if not isinstance(inner, Mapping):
        raise ConfigurationError("must be a table", field="password_policy")
    return inner


def parse_json(text: str) -> Mapping[str, Any]:
    """Parse a JSON configuration document (an object)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"invalid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(document, Mapping):
        raise ConfigurationError("a JSON configuration must be an object")
    return document


def parse_toml(text: str) -> Mapping[str, Any]:
    """Parse a TOML configuration document."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"invalid TOML: {exc}") from None


_PARSERS: dict[str, Callable[[str], Mapping[str, Any]]] = {
    ".toml": parse_toml,
    ".json": parse_json,
}


def read_document(path: str | Path) -> Mapping[str, Any]:
    """Read a ``.toml`` or ``.json`` configuration file."""
    file = Path(path)
    parser = _PARSERS.get(file.suffix.lower())
    if parser is None:
        raise ConfigurationError(f"unsupported config file type {file.suffix!r} (.toml, .json)")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {file}: {exc.strerror}") from None
    return parser(text)
