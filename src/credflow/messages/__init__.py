"""Localised user-facing messages, keyed by stable codes.

Every message a person may read (a rule label in a checklist, a requirement sentence, later a
login or recovery outcome) has a stable key and a French and an English template. The host app
can override any template, or add a locale, without touching credflow::

    messages = Messages(overrides={"fr": {"rule.min_length": Plural(
        "min", one="Au moins {min} caractère", other="Au moins {min} caractères !")}})

Templates use ``str.format`` fields named after the result's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from credflow.errors import InvalidInput, UnsupportedLocale
from credflow.messages import en, fr
from credflow.messages.plural import Plural
from credflow.policy.rules import MAX_PASSWORD_LENGTH

__all__ = ["DEFAULT_LOCALE", "Messages", "Plural", "Template"]

Template = str | Plural
DEFAULT_LOCALE = "fr"

_BUILTIN: Mapping[str, Mapping[str, Template]] = MappingProxyType(
    {"fr": fr.CATALOG, "en": en.CATALOG}
)


@dataclass(frozen=True, slots=True)
class _Catalogue:
    locale: str
    templates: Mapping[str, Template]


class Messages:
    """A set of message catalogues, one per locale, with the host app's overrides applied."""

    __slots__ = ("_catalogues",)

    def __init__(self, overrides: Mapping[str, Mapping[str, Template]] | None = None) -> None:
        merged: dict[str, dict[str, Template]] = {k: dict(v) for k, v in _BUILTIN.items()}
        for locale, templates in (overrides or {}).items():
            merged.setdefault(locale.lower().replace("_", "-"), {}).update(templates)
        self._catalogues = {
            loc: _Catalogue(loc, MappingProxyType(tpl)) for loc, tpl in merged.items()
        }

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales that have a catalogue, sorted."""
        return tuple(sorted(self._catalogues))

    def resolve(self, locale: str) -> str:
        """Map ``fr``, ``fr-FR`` or ``fr_CA`` to a catalogue locale, or raise UnsupportedLocale."""
        if locale in self._catalogues:  # already a catalogue name: the services' usual call
            return locale
        if not isinstance(locale, str):
            raise TypeError(f"locale must be a str, not {type(locale).__name__}")
        key = locale.lower().replace("_", "-")
        if key in self._catalogues:
            return key
        base = key.split("-", 1)[0]
        if base in self._catalogues:
            return base
        raise UnsupportedLocale(locale, self.locales)

    def keys(self, locale: str) -> frozenset[str]:
        """Every message key the catalogue of ``locale`` defines."""
        return frozenset(self._catalogues[self.resolve(locale)].templates)

    def render(self, key: str, locale: str, params: Mapping[str, object] | None = None) -> str:
        """Render message ``key`` in ``locale`` with ``params``.

        A key missing from a host-added locale falls back to English, then French, so an
        incomplete catalogue never breaks a page; a key unknown everywhere raises KeyError.
        """
        loc = self.resolve(locale)
        values = dict(params or {})
        for candidate in (loc, "en", DEFAULT_LOCALE):
            template = self._catalogues[candidate].templates.get(key)
            if template is not None:
                if isinstance(template, Plural):
                    template = template.select(candidate, values)
                return template.format(**values)
        raise KeyError(f"no message for key {key!r}")

    def render_error(self, error: InvalidInput, locale: str) -> str:
        """A sentence for a malformed input, in ``locale``: the field's own message
        (``error.code``, e.g. ``invalid.email``) or the generic ``invalid.input``. Never the
        exception text, which is for developers."""
        key = error.code
        if key not in self._catalogues[self.resolve(locale)].templates:
            key = "invalid.input"
        return self.render(key, locale, {"max": MAX_PASSWORD_LENGTH})


DEFAULT_MESSAGES = Messages()
