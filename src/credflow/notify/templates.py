"""Mail templates: one subject, plain-text body and HTML body per message kind and locale.

A notifier turns a ``Message`` into a mail with ``Templates.render``::

    rendered = DEFAULT_TEMPLATES.render(message)   # RenderedMail(subject, text, html, locale)

Templates use ``str.format`` fields named after the kind's parameters (``KINDS``). French is the
default locale and English the second; the host app can replace any template, per kind and
locale, or add a locale, without touching credflow::

    templates = Templates(overrides={"fr": {"reset_link": MailTemplate(subject=..., ...)}})

A locale without a template for a kind falls back to English, then French. Every override is
checked when ``Templates`` is built: a placeholder that is not a parameter of the kind, a link
outside an ``href``, a secret in a subject all raise ``ConfigurationError`` at start-up rather
than a broken mail later.

In HTML bodies every value is escaped with ``html.escape``; a link parameter may only appear as
the whole value of an ``href="..."`` attribute, and must be an absolute ``http(s)`` URL.
``render`` passes a template only its kind's parameters, so a value the template does not name
(another secret, say) can never reach the mail.
"""

from __future__ import annotations

import html
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from credflow.errors import ConfigurationError, NotificationError

if TYPE_CHECKING:
    from credflow.notify import Message

__all__ = [
    "DEFAULT_LOCALE",
    "DEFAULT_TEMPLATES",
    "KINDS",
    "KindSpec",
    "MailTemplate",
    "RenderedMail",
    "Templates",
]

DEFAULT_LOCALE = "fr"


@dataclass(frozen=True, slots=True)
class KindSpec:
    """What a message kind carries: its parameters, which are links, which are secrets."""

    params: tuple[str, ...]
    links: frozenset[str] = frozenset()
    secrets: frozenset[str] = frozenset()
    channel: str = "email"


KINDS: Mapping[str, KindSpec] = MappingProxyType(
    {
        "identifier": KindSpec(("identifier", "login_url"), links=frozenset({"login_url"})),
        "temporary_password": KindSpec(
            ("temporary_password", "login_url"),
            links=frozenset({"login_url"}),
            secrets=frozenset({"temporary_password"}),
        ),
        "unlock_link": KindSpec(
            ("identifier", "link"), links=frozenset({"link"}), secrets=frozenset({"link"})
        ),
        "password_changed": KindSpec(("identifier", "at", "url"), links=frozenset({"url"})),
        "security_question_changed": KindSpec(("identifier",)),
        "reset_link": KindSpec(
            ("identifier", "link", "expires_minutes"),
            links=frozenset({"link"}),
            secrets=frozenset({"link"}),
        ),
        "reset_code": KindSpec(
            ("identifier", "code", "expires_minutes"), secrets=frozenset({"code"})
        ),
        "identifier_reminder": KindSpec(
            ("identifiers", "login_url"), links=frozenset({"login_url"})
        ),
        "password_setup_link": KindSpec(
            ("identifier", "link", "expires_hours"),
            links=frozenset({"link"}),
            secrets=frozenset({"link"}),
        ),
        "email_verification_code": KindSpec(
            ("code", "expires_minutes"), secrets=frozenset({"code"})
        ),
        "email_change_notice": KindSpec(("identifier", "new_email")),
        "account_exists": KindSpec(
            ("login_url", "reset_url"), links=frozenset({"login_url", "reset_url"})
        ),
        "account_access_attempted": KindSpec(("url",), links=frozenset({"url"})),
        "sms_code": KindSpec(
            ("code", "expires_minutes"), secrets=frozenset({"code"}), channel="sms"
        ),
        "mfa_enabled": KindSpec(("identifier", "method", "at", "url"), links=frozenset({"url"})),
        "mfa_disabled": KindSpec(("identifier", "method", "at", "url"), links=frozenset({"url"})),
        "recovery_code_used": KindSpec(
            ("identifier", "left", "at", "url"), links=frozenset({"url"})
        ),
        "recovery_codes_regenerated": KindSpec(
            ("identifier", "at", "url"), links=frozenset({"url"})
        ),
        "second_factor_failed": KindSpec(
            ("identifier", "method", "at", "url"), links=frozenset({"url"})
        ),
    }
)


@dataclass(frozen=True, slots=True)
class MailTemplate:
    """The texts of one kind in one locale.

    Email kinds need a ``subject``, a ``text`` and an ``html`` body. SMS kinds have a ``text``
    only: their ``subject`` stays empty and their ``html`` ``None``.
    """

    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedMail:
    """A rendered message. ``html`` is ``None`` for SMS; ``locale`` is the template's locale."""

    subject: str
    text: str
    html: str | None
    locale: str

    def __repr__(self) -> str:
        # The bodies hold the secrets (a link, a code): keep them out of logs.
        return f"RenderedMail(subject={self.subject!r}, locale={self.locale!r})"


_HREF_OPEN = 'href="'


def _fields(text: str) -> Iterator[tuple[str, str | None, str]]:
    """Yield (literal before, field name, literal after) for each replacement field."""
    parts = list(string.Formatter().parse(text))
    for i, (literal, name, _spec, _conversion) in enumerate(parts):
        if name is not None:
            after = parts[i + 1][0] if i + 1 < len(parts) else ""
            yield literal, name, after


def _check(kind: str, locale: str, template: MailTemplate) -> None:
    """Raise ConfigurationError when ``template`` is not a valid template of ``kind``."""
    spec = KINDS[kind]
    where = f"templates.{locale}.{kind}"
    if not isinstance(template, MailTemplate):
        raise ConfigurationError("must be a MailTemplate", field=where)
    if spec.channel == "email":
        if not template.subject.strip() or not template.text.strip() or not template.html:
            raise ConfigurationError(
                "an email template needs a subject, a text and an html body", field=where
            )
    elif template.subject or template.html is not None:
        raise ConfigurationError(f"a {spec.channel} template has a text only", field=where)
    parts = {"subject": template.subject, "text": template.text, "html": template.html or ""}
    for part, text in parts.items():
        try:
            fields = list(_fields(text))
        except ValueError as exc:
            raise ConfigurationError(f"malformed template: {exc}", field=f"{where}.{part}") from exc
        for before, name, after in fields:
            if name not in spec.params:
                allowed = ", ".join(spec.params)
                raise ConfigurationError(
                    f"unknown placeholder {{{name}}}; the parameters of {kind!r} are: {allowed}",
                    field=f"{where}.{part}",
                )
            if part == "subject" and name in spec.secrets | spec.links:
                raise ConfigurationError(
                    f"a subject may not show the link or secret {{{name}}}", field=f"{where}.{part}"
                )
            in_href = before.endswith(_HREF_OPEN) and after.startswith('"')
            if part == "html" and (name in spec.links) != in_href:
                raise ConfigurationError(
                    f'in html, a link parameter must be a whole href="..." value and no other '
                    f"parameter may be one: {{{name}}}",
                    field=f"{where}.{part}",
                )


def _check_link(kind: str, name: str, value: str) -> None:
    try:
        url = urlsplit(value)
    except ValueError:
        url = None
    if (
        url is None
        or url.scheme not in ("http", "https")
        or not url.netloc
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise NotificationError(
            f"message {kind!r}: parameter {name!r} must be an absolute http(s) URL"
        )


def _html_value(value: str, *, link: bool) -> str:
    escaped = html.escape(value, quote=True)
    return escaped if link else escaped.replace("\n", "<br>\n")


class Templates:
    """The mail templates of every kind, per locale, with the host app's overrides applied."""

    __slots__ = ("_catalogues",)

    def __init__(self, overrides: Mapping[str, Mapping[str, MailTemplate]] | None = None) -> None:
        """Start from the built-in French and English templates and apply ``overrides``.

        ``overrides`` maps a locale (``fr``, ``en``, or a new one such as ``de``) to templates by
        kind. Raises ConfigurationError for an unknown kind or an invalid template.
        """
        merged: dict[str, dict[str, MailTemplate]] = {k: dict(v) for k, v in _BUILTIN.items()}
        for locale, templates in (overrides or {}).items():
            if not isinstance(locale, str) or not locale.strip():
                raise ConfigurationError("a locale must be a non-empty str", field="templates")
            key = _normalise(locale)
            for kind, template in templates.items():
                if kind not in KINDS:
                    raise ConfigurationError(
                        f"unknown message kind {kind!r}", field=f"templates.{key}.{kind}"
                    )
                _check(kind, key, template)
                merged.setdefault(key, {})[kind] = template
        self._catalogues: Mapping[str, Mapping[str, MailTemplate]] = MappingProxyType(
            {loc: MappingProxyType(tpl) for loc, tpl in merged.items()}
        )

    def __repr__(self) -> str:
        return f"Templates(locales={self.locales!r})"

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales that have templates, sorted."""
        return tuple(sorted(self._catalogues))

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every message kind, sorted."""
        return tuple(sorted(KINDS))

    def lookup(self, kind: str, locale: str) -> tuple[str, MailTemplate]:
        """The template of ``kind`` for ``locale``, and the locale it was found in.

        ``fr-FR`` and ``fr_CA`` use ``fr``. A locale without a template for ``kind`` (or without
        any template) falls back to English, then French. Raises KeyError for an unknown kind.
        """
        if kind not in KINDS:
            raise KeyError(f"no template for message kind {kind!r}")
        key = _normalise(locale)
        candidates = (key, key.split("-", 1)[0], "en", DEFAULT_LOCALE)
        # English and French have every kind (overrides replace, never remove): one matches.
        found = next(c for c in candidates if kind in self._catalogues.get(c, {}))
        return found, self._catalogues[found][kind]

    def get(self, kind: str, locale: str) -> MailTemplate:
        """The template ``render`` would use; a base for ``dataclasses.replace`` overrides."""
        return self.lookup(kind, locale)[1]

    def render(self, message: Message) -> RenderedMail:
        """Render ``message`` with the template of its kind and locale.

        Raises NotificationError for an unknown kind, a channel the kind is not sent on, a
        missing parameter or a link that is not an http(s) URL. The error names the kind and the
        parameter, never a value.
        """
        spec = KINDS.get(message.kind)
        if spec is None:
            raise NotificationError(f"unknown message kind {message.kind!r}")
        if message.channel != spec.channel:
            raise NotificationError(
                f"message {message.kind!r} is sent by {spec.channel}, not {message.channel!r}"
            )
        missing = [name for name in spec.params if name not in message.params]
        if missing:
            raise NotificationError(
                f"message {message.kind!r} lacks the parameter(s): {', '.join(missing)}"
            )
        values = {name: str(message.params[name]) for name in spec.params}
        for name in sorted(spec.links):
            _check_link(message.kind, name, values[name])
        locale, template = self.lookup(message.kind, message.locale)
        subject = " ".join(template.subject.format(**values).split())
        text = template.text.format(**values)
        body = None
        if template.html is not None:
            escaped = {k: _html_value(v, link=k in spec.links) for k, v in values.items()}
            body = template.html.format(**escaped)
        return RenderedMail(subject, text, body, locale)


def _normalise(locale: str) -> str:
    if not isinstance(locale, str) or not locale.strip():
        raise NotificationError("the locale must be a non-empty str")
    return locale.strip().lower().replace("_", "-")


# -- built-in texts ----------------------------------------------------------------------------

_FOOTER = {
    "fr": "Ce message vous a été envoyé automatiquement, merci de ne pas y répondre.",
    "en": "This message was sent automatically; please do not reply to it.",
}
_HELLO = {"fr": "Bonjour,", "en": "Hello,"}


def _mail(lang: str, subject: str, text: list[str], body: list[str]) -> MailTemplate:
    """A template from paragraphs: ``text`` in plain text, ``body`` in HTML."""
    plain = "\n\n".join([_HELLO[lang], *text]) + f"\n\n-- \n{_FOOTER[lang]}\n"
    paragraphs = "\n".join(f"<p>{p}</p>" for p in [_HELLO[lang], *body])
    page = (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n<body>\n{paragraphs}\n"
        f'<hr>\n<p style="color: #666666; font-size: small">{_FOOTER[lang]}</p>\n'
        "</body>\n</html>\n"
    )
    return MailTemplate(subject, plain, page)


_STRONG = '<strong style="font-size: large">'

_FR: dict[str, MailTemplate] = {
    "identifier": _mail(
        "fr",
        "Votre identifiant de connexion",
        [
            "Un compte d'accès à votre espace client a été créé pour vous. "
            "Votre identifiant de connexion est :",
            "{identifier}",
            "Votre mot de passe temporaire vous est envoyé dans un message séparé. "
            "Connectez-vous à l'adresse suivante : {login_url}\n"
            "À votre première connexion, il vous sera demandé de choisir un nouveau mot de passe.",
            "Si vous ne vous attendiez pas à ce message, ne tenez pas compte de ces informations "
            "et prévenez le support.",
        ],
        [
            "Un compte d'accès à votre espace client a été créé pour vous. "
            "Votre identifiant de connexion est :",
            f"{_STRONG}{{identifier}}</strong>",
            "Votre mot de passe temporaire vous est envoyé dans un message séparé. "
            '<a href="{login_url}">Connectez-vous à votre espace client</a> : à votre première '
            "connexion, il vous sera demandé de choisir un nouveau mot de passe.",
            "Si vous ne vous attendiez pas à ce message, ne tenez pas compte de ces informations "
            "et prévenez le support.",
        ],
    ),
    "temporary_password": _mail(
        "fr",
        "Votre mot de passe temporaire",
        [
            "Voici votre mot de passe temporaire :",
            "{temporary_password}",
            "Votre identifiant vous est envoyé dans un message séparé. "
            "Connectez-vous à l'adresse suivante : {login_url}\n"
            "Ce mot de passe n'est valable que pour une durée limitée et une seule connexion : "
            "vous devrez alors en choisir un nouveau. "
            "Ne le communiquez à personne, pas même au support.",
            "Si vous ne vous attendiez pas à ce message, n'utilisez pas ce mot de passe et "
            "prévenez le support.",
        ],
        [
            "Voici votre mot de passe temporaire :",
            f"{_STRONG}<code>{{temporary_password}}</code></strong>",
            "Votre identifiant vous est envoyé dans un message séparé. "
            '<a href="{login_url}">Connectez-vous à votre espace client</a> : ce mot de passe '
            "n'est valable que pour une durée limitée et une seule connexion, vous devrez alors "
            "en choisir un nouveau. Ne le communiquez à personne, pas même au support.",
            "Si vous ne vous attendiez pas à ce message, n'utilisez pas ce mot de passe et "
            "prévenez le support.",
        ],
    ),
    "unlock_link": _mail(
        "fr",
        "Votre compte a été verrouillé",
        [
            "À la suite de plusieurs tentatives de connexion infructueuses, le compte "
            "{identifier} a été temporairement verrouillé.",
            "Pour le débloquer, ouvrez le lien suivant : {link}\n"
            "Ce lien ne peut servir qu'une seule fois.",
            "Si ces tentatives ne viennent pas de vous, quelqu'un essaie peut-être d'accéder à "
            "votre compte : votre mot de passe n'a pas été modifié, mais par précaution "
            "changez-le dès votre prochaine connexion et prévenez le support.",
        ],
        [
            "À la suite de plusieurs tentatives de connexion infructueuses, le compte "
            "<strong>{identifier}</strong> a été temporairement verrouillé.",
            '<a href="{link}">Débloquer mon compte</a> (ce lien ne peut servir qu\'une seule '
            "fois).",
            "Si ces tentatives ne viennent pas de vous, quelqu'un essaie peut-être d'accéder à "
            "votre compte : votre mot de passe n'a pas été modifié, mais par précaution "
            "changez-le dès votre prochaine connexion et prévenez le support.",
        ],
    ),
    "password_changed": _mail(
        "fr",
        "Votre mot de passe a été modifié",
        [
            "Le mot de passe du compte {identifier} vient d'être modifié (le {at}).",
            "Si vous êtes à l'origine de ce changement, vous n'avez rien à faire.",
            "Sinon, quelqu'un a peut-être accès à votre compte : réinitialisez votre mot de "
            "passe dès maintenant avec le lien « Mot de passe oublié ? » de votre espace client "
            "({url}) et prévenez le support.",
        ],
        [
            "Le mot de passe du compte <strong>{identifier}</strong> vient d'être modifié "
            "(le {at}).",
            "Si vous êtes à l'origine de ce changement, vous n'avez rien à faire.",
            "Sinon, quelqu'un a peut-être accès à votre compte : réinitialisez votre mot de "
            "passe dès maintenant avec le lien « Mot de passe oublié ? » de "
            '<a href="{url}">votre espace client</a> et prévenez le support.',
        ],
    ),
    "security_question_changed": _mail(
        "fr",
        "Votre question de sécurité a été modifiée",
        [
            "La question de sécurité du compte {identifier} et sa réponse viennent d'être "
            "enregistrées. Elles pourront vous être demandées pour réinitialiser votre mot de "
            "passe en cas d'oubli.",
            "Si vous n'êtes pas à l'origine de cette modification, prévenez le support sans "
            "attendre : quelqu'un a peut-être accès à votre compte.",
        ],
        [
            "La question de sécurité du compte <strong>{identifier}</strong> et sa réponse "
            "viennent d'être enregistrées. Elles pourront vous être demandées pour réinitialiser "
            "votre mot de passe en cas d'oubli.",
            "Si vous n'êtes pas à l'origine de cette modification, prévenez le support sans "
            "attendre : quelqu'un a peut-être accès à votre compte.",
        ],
    ),
    "reset_link": _mail(
        "fr",
        "Réinitialisation de votre mot de passe",
        [
            "Vous avez demandé la réinitialisation du mot de passe du compte {identifier}.",
            "Pour choisir un nouveau mot de passe, ouvrez le lien suivant : {link}\n"
            "Ce lien est valable {expires_minutes} min et ne peut servir qu'une seule fois. "
            "Passé ce délai, faites une nouvelle demande depuis la page de connexion.",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de "
            "passe actuel reste valable et personne ne peut le changer sans ce lien.",
        ],
        [
            "Vous avez demandé la réinitialisation du mot de passe du compte "
            "<strong>{identifier}</strong>.",
            '<a href="{link}">Choisir un nouveau mot de passe</a>',
            "Ce lien est valable {expires_minutes} min et ne peut servir qu'une seule fois. "
            "Passé ce délai, faites une nouvelle demande depuis la page de connexion.",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de "
            "passe actuel reste valable et personne ne peut le changer sans ce lien.",
        ],
    ),
    "reset_code": _mail(
        "fr",
        "Votre code de réinitialisation",
        [
            "Vous avez demandé la réinitialisation du mot de passe du compte {identifier}. "
            "Saisissez le code suivant sur la page de réinitialisation :",
            "{code}",
            "Ce code est valable {expires_minutes} min. "
            "Ne le communiquez à personne, pas même au support.",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de "
            "passe actuel reste valable.",
        ],
        [
            "Vous avez demandé la réinitialisation du mot de passe du compte "
            "<strong>{identifier}</strong>. "
            "Saisissez le code suivant sur la page de réinitialisation :",
            f"{_STRONG}<code>{{code}}</code></strong>",
            "Ce code est valable {expires_minutes} min. "
            "Ne le communiquez à personne, pas même au support.",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de "
            "passe actuel reste valable.",
        ],
    ),
    "identifier_reminder": _mail(
        "fr",
        "Rappel de votre identifiant de connexion",
        [
            "Vous avez demandé à recevoir votre identifiant de connexion. Voici le ou les "
            "identifiants associés à cette adresse électronique :",
            "{identifiers}",
            "Connectez-vous à l'adresse suivante : {login_url}\n"
            "Si vous avez aussi oublié votre mot de passe, utilisez le lien "
            "« Mot de passe oublié ? » de la page de connexion.",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : il ne donne "
            "accès à votre compte à personne d'autre que vous.",
        ],
        [
            "Vous avez demandé à recevoir votre identifiant de connexion. Voici le ou les "
            "identifiants associés à cette adresse électronique :",
            "<strong>{identifiers}</strong>",
            '<a href="{login_url}">Se connecter à mon espace client</a>. Si vous avez aussi '
            "oublié votre mot de passe, utilisez le lien « Mot de passe oublié ? » de la page de "
            "connexion.",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : il ne donne "
            "accès à votre compte à personne d'autre que vous.",
        ],
    ),
    "password_setup_link": _mail(
        "fr",
        "Choisissez votre mot de passe",
        [
            "Pour accéder à votre espace client avec l'identifiant {identifier}, vous devez "
            "choisir un nouveau mot de passe.",
            "Pour le définir, ouvrez le lien suivant : {link}\n"
            "Ce lien est valable {expires_hours} h et ne peut servir qu'une seule fois. Passé ce "
            "délai, demandez un nouveau lien avec « Mot de passe oublié ? » sur la page de "
            "connexion, ou auprès du support.",
            "Si vous ne vous attendiez pas à ce message, n'ouvrez pas le lien et prévenez le "
            "support.",
        ],
        [
            "Pour accéder à votre espace client avec l'identifiant <strong>{identifier}</strong>, "
            "vous devez choisir un nouveau mot de passe.",
            '<a href="{link}">Choisir mon mot de passe</a>',
            "Ce lien est valable {expires_hours} h et ne peut servir qu'une seule fois. Passé ce "
            "délai, demandez un nouveau lien avec « Mot de passe oublié ? » sur la page de "
            "connexion, ou auprès du support.",
            "Si vous ne vous attendiez pas à ce message, n'ouvrez pas le lien et prévenez le "
            "support.",
        ],
    ),
    "email_verification_code": _mail(
        "fr",
        "Votre code de vérification",
        [
            "Pour confirmer votre adresse électronique, saisissez le code suivant :",
            "{code}",
            "Ce code est valable {expires_minutes} min. Ne le communiquez à personne.",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : cette adresse "
            "ne sera pas enregistrée sans ce code.",
        ],
        [
            "Pour confirmer votre adresse électronique, saisissez le code suivant :",
            f"{_STRONG}<code>{{code}}</code></strong>",
            "Ce code est valable {expires_minutes} min. Ne le communiquez à personne.",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : cette adresse "
            "ne sera pas enregistrée sans ce code.",
        ],
    ),
    "email_change_notice": _mail(
        "fr",
        "L'adresse électronique de votre compte a changé",
        [
            "L'adresse électronique du compte {identifier} a été remplacée par : {new_email}",
            "Les messages concernant votre compte, dont la réinitialisation du mot de passe, "
            "sont désormais envoyés à cette nouvelle adresse et non plus à celle-ci. Les liens "
            "de réinitialisation encore valides ne fonctionnent plus.",
            "Si vous n'êtes pas à l'origine de cette demande, prévenez le support sans attendre "
            "et changez votre mot de passe : quelqu'un a peut-être accès à votre compte.",
        ],
        [
            "L'adresse électronique du compte <strong>{identifier}</strong> a été remplacée "
            "par : <strong>{new_email}</strong>",
            "Les messages concernant votre compte, dont la réinitialisation du mot de passe, "
            "sont désormais envoyés à cette nouvelle adresse et non plus à celle-ci. Les liens "
            "de réinitialisation encore valides ne fonctionnent plus.",
            "Si vous n'êtes pas à l'origine de cette demande, prévenez le support sans attendre "
            "et changez votre mot de passe : quelqu'un a peut-être accès à votre compte.",
        ],
    ),
    "account_exists": _mail(
        "fr",
        "Vous avez déjà un compte",
        [
            "Une inscription vient d'être demandée avec cette adresse électronique, mais un "
            "compte lui est déjà associé.",
            "Pour vous connecter : {login_url}\nSi vous avez oublié votre mot de passe : "
            "{reset_url}",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre compte "
            "n'a pas été modifié.",
        ],
        [
            "Une inscription vient d'être demandée avec cette adresse électronique, mais un "
            "compte lui est déjà associé.",
            '<a href="{login_url}">Me connecter</a> ou, si vous avez oublié votre mot de passe, '
            '<a href="{reset_url}">le réinitialiser</a>.',
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre compte "
            "n'a pas été modifié.",
        ],
    ),
    "account_access_attempted": _mail(
        "fr",
        "Demande d'accès à un compte",
        [
            "Quelqu'un a demandé à récupérer l'accès à un compte de l'espace client en indiquant "
            "cette adresse électronique, mais aucun compte ne lui est associé.",
            "Si c'était vous, votre compte est peut-être associé à une autre adresse : refaites "
            "la demande avec l'adresse indiquée à votre inscription, ou prévenez le support. "
            "Espace client : {url}",
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : vous n'avez "
            "rien à faire.",
        ],
        [
            "Quelqu'un a demandé à récupérer l'accès à un compte de l'espace client en indiquant "
            "cette adresse électronique, mais aucun compte ne lui est associé.",
            "Si c'était vous, votre compte est peut-être associé à une autre adresse : refaites "
            "la demande avec l'adresse indiquée à votre inscription sur "
            '<a href="{url}">l\'espace client</a>, ou prévenez le support.',
            "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : vous n'avez "
            "rien à faire.",
        ],
    ),
    "sms_code": MailTemplate(
        "",
        "Votre code : {code} (valable {expires_minutes} min). Ne le communiquez à personne. "
        "Vous n'avez rien demandé ? Ignorez ce SMS.",
    ),
    "mfa_enabled": _mail(
        "fr",
        "Une méthode de vérification en deux étapes a été ajoutée",
        [
            "Une méthode de vérification en deux étapes a été ajoutée au compte {identifier} "
            "(le {at}) : {method}.",
            "Elle pourra désormais vous être demandée après votre mot de passe pour vous "
            "connecter.",
            "Si vous n'êtes pas à l'origine de ce changement, quelqu'un a peut-être accès à votre "
            "compte : changez votre mot de passe dès maintenant depuis votre espace client "
            "({url}) et prévenez le support.",
        ],
        [
            "Une méthode de vérification en deux étapes a été ajoutée au compte "
            "<strong>{identifier}</strong> (le {at}) : {method}.",
            "Elle pourra désormais vous être demandée après votre mot de passe pour vous "
            "connecter.",
            "Si vous n'êtes pas à l'origine de ce changement, quelqu'un a peut-être accès à votre "
            'compte : changez votre mot de passe dès maintenant depuis <a href="{url}">votre '
            "espace client</a> et prévenez le support.",
        ],
    ),
    "mfa_disabled": _mail(
        "fr",
        "Une méthode de vérification en deux étapes a été supprimée",
        [
            "Une méthode de vérification en deux étapes a été supprimée du compte {identifier} "
            "(le {at}) : {method}.",
            "Si c'était la dernière, votre compte n'est plus protégé que par votre mot de passe "
            "et vos codes de récupération ne fonctionnent plus.",
            "Si vous n'êtes pas à l'origine de ce changement, quelqu'un a peut-être accès à votre "
            "compte : changez votre mot de passe dès maintenant depuis votre espace client "
            "({url}), configurez à nouveau la vérification en deux étapes et prévenez le support.",
        ],
        [
            "Une méthode de vérification en deux étapes a été supprimée du compte "
            "<strong>{identifier}</strong> (le {at}) : {method}.",
            "Si c'était la dernière, votre compte n'est plus protégé que par votre mot de passe "
            "et vos codes de récupération ne fonctionnent plus.",
            "Si vous n'êtes pas à l'origine de ce changement, quelqu'un a peut-être accès à votre "
            'compte : changez votre mot de passe dès maintenant depuis <a href="{url}">votre '
            "espace client</a>, configurez à nouveau la vérification en deux étapes et prévenez "
            "le support.",
        ],
    ),
    "recovery_code_used": _mail(
        "fr",
        "Un code de récupération a été utilisé",
        [
            "Un code de récupération du compte {identifier} vient d'être utilisé (le {at}). "
            "Chaque code ne sert qu'une fois.",
            "Codes de récupération restants : {left}. S'il vous en reste peu, générez-en de "
            "nouveaux depuis votre espace client ({url}) ; les anciens ne fonctionneront plus.",
            "Si vous n'êtes pas à l'origine de cette utilisation, quelqu'un connaît votre mot de "
            "passe et l'un de vos codes : changez votre mot de passe dès maintenant, générez de "
            "nouveaux codes et prévenez le support.",
        ],
        [
            "Un code de récupération du compte <strong>{identifier}</strong> vient d'être "
            "utilisé (le {at}). Chaque code ne sert qu'une fois.",
            "Codes de récupération restants : <strong>{left}</strong>. S'il vous en reste peu, "
            'générez-en de nouveaux depuis <a href="{url}">votre espace client</a> ; les anciens '
            "ne fonctionneront plus.",
            "Si vous n'êtes pas à l'origine de cette utilisation, quelqu'un connaît votre mot de "
            "passe et l'un de vos codes : changez votre mot de passe dès maintenant, générez de "
            "nouveaux codes et prévenez le support.",
        ],
    ),
    "recovery_codes_regenerated": _mail(
        "fr",
        "Vos codes de récupération ont été renouvelés",
        [
            "De nouveaux codes de récupération ont été générés pour le compte {identifier} "
            "(le {at}). Les anciens codes ne fonctionnent plus.",
            "Les nouveaux codes ne sont affichés qu'une fois, à l'écran ; ils ne sont jamais "
            "envoyés par courriel.",
            "Si vous n'êtes pas à l'origine de ce changement, quelqu'un a peut-être accès à votre "
            "compte : changez votre mot de passe dès maintenant depuis votre espace client "
            "({url}) et prévenez le support.",
        ],
        [
            "De nouveaux codes de récupération ont été générés pour le compte "
            "<strong>{identifier}</strong> (le {at}). Les anciens codes ne fonctionnent plus.",
            "Les nouveaux codes ne sont affichés qu'une fois, à l'écran ; ils ne sont jamais "
            "envoyés par courriel.",
            "Si vous n'êtes pas à l'origine de ce changement, quelqu'un a peut-être accès à votre "
            'compte : changez votre mot de passe dès maintenant depuis <a href="{url}">votre '
            "espace client</a> et prévenez le support.",
        ],
    ),
    "second_factor_failed": _mail(
        "fr",
        "Échec de la vérification en deux étapes sur votre compte",
        [
            "Le mot de passe du compte {identifier} a été saisi correctement, mais la "
            "vérification en deux étapes a échoué (le {at}, {method}).",
            "Si c'était vous, il n'y a rien à faire.",
            "Si vous n'avez pas tenté de vous connecter, quelqu'un connaît votre mot de passe : "
            "changez-le dès maintenant depuis votre espace client ({url}) et prévenez le "
            "support. Votre second facteur a bloqué cette tentative.",
        ],
        [
            "Le mot de passe du compte <strong>{identifier}</strong> a été saisi correctement, "
            "mais la vérification en deux étapes a échoué (le {at}, {method}).",
            "Si c'était vous, il n'y a rien à faire.",
            "Si vous n'avez pas tenté de vous connecter, quelqu'un connaît votre mot de passe : "
            'changez-le dès maintenant depuis <a href="{url}">votre espace client</a> et '
            "prévenez le support. Votre second facteur a bloqué cette tentative.",
        ],
    ),
}

_EN: dict[str, MailTemplate] = {
    "identifier": _mail(
        "en",
        "Your sign-in identifier",
        [
            "An account has been created for you on the customer portal. "
            "Your sign-in identifier is:",
            "{identifier}",
            "Your temporary password is sent in a separate email. Sign in at: {login_url}\n"
            "At your first sign-in you will be asked to choose a new password.",
            "If you did not expect this email, ignore these details and tell our support team.",
        ],
        [
            "An account has been created for you on the customer portal. "
            "Your sign-in identifier is:",
            f"{_STRONG}{{identifier}}</strong>",
            "Your temporary password is sent in a separate email. "
            '<a href="{login_url}">Sign in to the customer portal</a>: at your first sign-in '
            "you will be asked to choose a new password.",
            "If you did not expect this email, ignore these details and tell our support team.",
        ],
    ),
    "temporary_password": _mail(
        "en",
        "Your temporary password",
        [
            "Here is your temporary password:",
            "{temporary_password}",
            "Your identifier is sent in a separate email. Sign in at: {login_url}\n"
            "This password is valid for a limited time and a single sign-in, after which you "
            "will choose a new one. Do not share it with anyone, not even our support team.",
            "If you did not expect this email, do not use this password and tell our support team.",
        ],
        [
            "Here is your temporary password:",
            f"{_STRONG}<code>{{temporary_password}}</code></strong>",
            "Your identifier is sent in a separate email. "
            '<a href="{login_url}">Sign in to the customer portal</a>: this password is valid '
            "for a limited time and a single sign-in, after which you will choose a new one. "
            "Do not share it with anyone, not even our support team.",
            "If you did not expect this email, do not use this password and tell our support team.",
        ],
    ),
    "unlock_link": _mail(
        "en",
        "Your account has been locked",
        [
            "After several failed sign-in attempts, the account {identifier} has been "
            "temporarily locked.",
            "To unlock it, open this link: {link}\nThe link works only once.",
            "If these attempts were not yours, someone may be trying to get into your account: "
            "your password has not changed, but change it at your next sign-in to be safe and "
            "tell our support team.",
        ],
        [
            "After several failed sign-in attempts, the account <strong>{identifier}</strong> "
            "has been temporarily locked.",
            '<a href="{link}">Unlock my account</a> (the link works only once).',
            "If these attempts were not yours, someone may be trying to get into your account: "
            "your password has not changed, but change it at your next sign-in to be safe and "
            "tell our support team.",
        ],
    ),
    "password_changed": _mail(
        "en",
        "Your password has been changed",
        [
            "The password of the account {identifier} has just been changed (at {at}).",
            "If you made this change, there is nothing to do.",
            "If you did not, someone may have access to your account: reset your password now "
            'with the "Forgot your password?" link of the customer portal ({url}) and tell our '
            "support team.",
        ],
        [
            "The password of the account <strong>{identifier}</strong> has just been changed "
            "(at {at}).",
            "If you made this change, there is nothing to do.",
            "If you did not, someone may have access to your account: reset your password now "
            'with the "Forgot your password?" link of '
            '<a href="{url}">the customer portal</a> and tell our support team.',
        ],
    ),
    "security_question_changed": _mail(
        "en",
        "Your security question has been changed",
        [
            "A new security question and answer have been saved for the account {identifier}. "
            "You may be asked them to reset a forgotten password.",
            "If you did not make this change, tell our support team right away: someone may "
            "have access to your account.",
        ],
        [
            "A new security question and answer have been saved for the account "
            "<strong>{identifier}</strong>. You may be asked them to reset a forgotten password.",
            "If you did not make this change, tell our support team right away: someone may "
            "have access to your account.",
        ],
    ),
    "reset_link": _mail(
        "en",
        "Reset your password",
        [
            "You asked to reset the password of the account {identifier}.",
            "To choose a new password, open this link: {link}\n"
            "The link is valid for {expires_minutes} min and works only once. After that, ask "
            "again from the sign-in page.",
            "If you did not ask for this, ignore this email: your current password still works "
            "and nobody can change it without this link.",
        ],
        [
            "You asked to reset the password of the account <strong>{identifier}</strong>.",
            '<a href="{link}">Choose a new password</a>',
            "The link is valid for {expires_minutes} min and works only once. After that, ask "
            "again from the sign-in page.",
            "If you did not ask for this, ignore this email: your current password still works "
            "and nobody can change it without this link.",
        ],
    ),
    "reset_code": _mail(
        "en",
        "Your password reset code",
        [
            "You asked to reset the password of the account {identifier}. "
            "Enter this code on the reset page:",
            "{code}",
            "The code is valid for {expires_minutes} min. "
            "Do not share it with anyone, not even our support team.",
            "If you did not ask for this, ignore this email: your current password still works.",
        ],
        [
            "You asked to reset the password of the account <strong>{identifier}</strong>. "
            "Enter this code on the reset page:",
            f"{_STRONG}<code>{{code}}</code></strong>",
            "The code is valid for {expires_minutes} min. "
            "Do not share it with anyone, not even our support team.",
            "If you did not ask for this, ignore this email: your current password still works.",
        ],
    ),
    "identifier_reminder": _mail(
        "en",
        "Your sign-in identifier",
        [
            "You asked for your sign-in identifier. The identifiers linked to this email "
            "address are:",
            "{identifiers}",
            "Sign in at: {login_url}\n"
            'If you also forgot your password, use the "Forgot your password?" link of the '
            "sign-in page.",
            "If you did not ask for this, ignore this email: it gives nobody but you access to "
            "your account.",
        ],
        [
            "You asked for your sign-in identifier. The identifiers linked to this email "
            "address are:",
            "<strong>{identifiers}</strong>",
            '<a href="{login_url}">Sign in to the customer portal</a>. If you also forgot your '
            'password, use the "Forgot your password?" link of the sign-in page.',
            "If you did not ask for this, ignore this email: it gives nobody but you access to "
            "your account.",
        ],
    ),
    "password_setup_link": _mail(
        "en",
        "Choose your password",
        [
            "To use the customer portal with the identifier {identifier}, you need to choose a "
            "new password.",
            "To set it, open this link: {link}\n"
            "The link is valid for {expires_hours} h and works only once. After that, ask for a "
            'new link with "Forgot your password?" on the sign-in page, or from our support '
            "team.",
            "If you did not expect this email, do not open the link and tell our support team.",
        ],
        [
            "To use the customer portal with the identifier <strong>{identifier}</strong>, you "
            "need to choose a new password.",
            '<a href="{link}">Choose my password</a>',
            "The link is valid for {expires_hours} h and works only once. After that, ask for a "
            'new link with "Forgot your password?" on the sign-in page, or from our support '
            "team.",
            "If you did not expect this email, do not open the link and tell our support team.",
        ],
    ),
    "email_verification_code": _mail(
        "en",
        "Your verification code",
        [
            "To confirm your email address, enter this code:",
            "{code}",
            "The code is valid for {expires_minutes} min. Do not share it with anyone.",
            "If you did not ask for this, ignore this email: the address will not be saved "
            "without this code.",
        ],
        [
            "To confirm your email address, enter this code:",
            f"{_STRONG}<code>{{code}}</code></strong>",
            "The code is valid for {expires_minutes} min. Do not share it with anyone.",
            "If you did not ask for this, ignore this email: the address will not be saved "
            "without this code.",
        ],
    ),
    "email_change_notice": _mail(
        "en",
        "The email address of your account has changed",
        [
            "The email address of the account {identifier} has been replaced by: {new_email}",
            "Mail about your account, password resets included, now goes to the new address "
            "instead of this one. Reset links still outstanding no longer work.",
            "If you did not ask for this, tell our support team right away and change your "
            "password: someone may have access to your account.",
        ],
        [
            "The email address of the account <strong>{identifier}</strong> has been replaced "
            "by: <strong>{new_email}</strong>",
            "Mail about your account, password resets included, now goes to the new address "
            "instead of this one. Reset links still outstanding no longer work.",
            "If you did not ask for this, tell our support team right away and change your "
            "password: someone may have access to your account.",
        ],
    ),
    "account_exists": _mail(
        "en",
        "You already have an account",
        [
            "Someone just tried to register with this email address, but it already has an "
            "account.",
            "To sign in: {login_url}\nIf you forgot your password: {reset_url}",
            "If you did not ask for this, ignore this email: your account has not changed.",
        ],
        [
            "Someone just tried to register with this email address, but it already has an "
            "account.",
            '<a href="{login_url}">Sign in</a> or, if you forgot your password, '
            '<a href="{reset_url}">reset it</a>.',
            "If you did not ask for this, ignore this email: your account has not changed.",
        ],
    ),
    "account_access_attempted": _mail(
        "en",
        "Account access request",
        [
            "Someone asked to recover access to a customer portal account with this email "
            "address, but no account uses it.",
            "If it was you, your account may use another address: ask again with the address "
            "you registered with, or ask our support team. Customer portal: {url}",
            "If you did not ask for this, ignore this email: there is nothing to do.",
        ],
        [
            "Someone asked to recover access to a customer portal account with this email "
            "address, but no account uses it.",
            "If it was you, your account may use another address: ask again with the address "
            'you registered with on <a href="{url}">the customer portal</a>, or ask our support '
            "team.",
            "If you did not ask for this, ignore this email: there is nothing to do.",
        ],
    ),
    "sms_code": MailTemplate(
        "",
        "Your code: {code} (valid {expires_minutes} min). Do not share it. "
        "Did not ask for it? Ignore this SMS.",
    ),
    "mfa_enabled": _mail(
        "en",
        "A two-step verification method was added",
        [
            "A two-step verification method was added to the account {identifier} (at {at}): "
            "{method}.",
            "You may now be asked for it after your password when you sign in.",
            "If you did not make this change, someone may have access to your account: change "
            "your password now from the customer portal ({url}) and tell our support team.",
        ],
        [
            "A two-step verification method was added to the account "
            "<strong>{identifier}</strong> (at {at}): {method}.",
            "You may now be asked for it after your password when you sign in.",
            "If you did not make this change, someone may have access to your account: change "
            'your password now from <a href="{url}">the customer portal</a> and tell our '
            "support team.",
        ],
    ),
    "mfa_disabled": _mail(
        "en",
        "A two-step verification method was removed",
        [
            "A two-step verification method was removed from the account {identifier} "
            "(at {at}): {method}.",
            "If it was the last one, your account is now protected by your password alone and "
            "your recovery codes no longer work.",
            "If you did not make this change, someone may have access to your account: change "
            "your password now from the customer portal ({url}), set up two-step verification "
            "again and tell our support team.",
        ],
        [
            "A two-step verification method was removed from the account "
            "<strong>{identifier}</strong> (at {at}): {method}.",
            "If it was the last one, your account is now protected by your password alone and "
            "your recovery codes no longer work.",
            "If you did not make this change, someone may have access to your account: change "
            'your password now from <a href="{url}">the customer portal</a>, set up two-step '
            "verification again and tell our support team.",
        ],
    ),
    "recovery_code_used": _mail(
        "en",
        "A recovery code was used",
        [
            "A recovery code of the account {identifier} was just used (at {at}). Each code "
            "works only once.",
            "Recovery codes left: {left}. If you have few left, make new ones from the customer "
            "portal ({url}); the old ones will then stop working.",
            "If you did not use it, someone knows your password and one of your codes: change "
            "your password now, make new codes and tell our support team.",
        ],
        [
            "A recovery code of the account <strong>{identifier}</strong> was just used "
            "(at {at}). Each code works only once.",
            "Recovery codes left: <strong>{left}</strong>. If you have few left, make new ones "
            'from <a href="{url}">the customer portal</a>; the old ones will then stop working.',
            "If you did not use it, someone knows your password and one of your codes: change "
            "your password now, make new codes and tell our support team.",
        ],
    ),
    "recovery_codes_regenerated": _mail(
        "en",
        "Your recovery codes were replaced",
        [
            "New recovery codes were made for the account {identifier} (at {at}). The old "
            "codes no longer work.",
            "The new codes are shown only once, on screen; they are never sent by email.",
            "If you did not make this change, someone may have access to your account: change "
            "your password now from the customer portal ({url}) and tell our support team.",
        ],
        [
            "New recovery codes were made for the account <strong>{identifier}</strong> "
            "(at {at}). The old codes no longer work.",
            "The new codes are shown only once, on screen; they are never sent by email.",
            "If you did not make this change, someone may have access to your account: change "
            'your password now from <a href="{url}">the customer portal</a> and tell our '
            "support team.",
        ],
    ),
    "second_factor_failed": _mail(
        "en",
        "A two-step verification failed on your account",
        [
            "The password of the account {identifier} was entered correctly, but the two-step "
            "verification failed (at {at}, {method}).",
            "If it was you, there is nothing to do.",
            "If you did not try to sign in, someone knows your password: change it now from the "
            "customer portal ({url}) and tell our support team. Your second factor stopped this "
            "attempt.",
        ],
        [
            "The password of the account <strong>{identifier}</strong> was entered correctly, "
            "but the two-step verification failed (at {at}, {method}).",
            "If it was you, there is nothing to do.",
            "If you did not try to sign in, someone knows your password: change it now from "
            '<a href="{url}">the customer portal</a> and tell our support team. Your second '
            "factor stopped this attempt.",
        ],
    ),
}

_BUILTIN: Mapping[str, Mapping[str, MailTemplate]] = MappingProxyType(
    {"fr": MappingProxyType(_FR), "en": MappingProxyType(_EN)}
)
for _locale, _templates in _BUILTIN.items():
    for _kind, _template in _templates.items():
        _check(_kind, _locale, _template)

DEFAULT_TEMPLATES = Templates()
