"""The mail templates: coverage of every kind and locale, escaping, overrides, fallbacks."""

from __future__ import annotations

import dataclasses
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credflow.errors import ConfigurationError, NotificationError
from credflow.notify import Message, Notifier, Outbox
from credflow.notify.templates import (
    DEFAULT_TEMPLATES,
    KINDS,
    MailTemplate,
    RenderedMail,
    Templates,
)

# The contract other code relies on: kind -> its parameters (secrets marked).
CONTRACT = {
    "identifier": ("identifier", "login_url"),
    "temporary_password": ("temporary_password*", "login_url"),
    "unlock_link": ("identifier", "link*"),
    "password_changed": ("identifier", "at", "url"),
    "security_question_changed": ("identifier",),
    "reset_link": ("identifier", "link*", "expires_minutes"),
    "reset_code": ("identifier", "code*", "expires_minutes"),
    "identifier_reminder": ("identifiers", "login_url"),
    "password_setup_link": ("identifier", "link*", "expires_hours"),
    "email_verification_code": ("code*", "expires_minutes"),
    "email_change_notice": ("identifier", "new_email"),
    "account_exists": ("login_url", "reset_url"),
    "account_access_attempted": ("url",),
    "sms_code": ("code*", "expires_minutes"),
    "mfa_enabled": ("identifier", "method", "at", "url"),
    "mfa_disabled": ("identifier", "method", "at", "url"),
    "recovery_code_used": ("identifier", "left", "at", "url"),
    "recovery_codes_regenerated": ("identifier", "at", "url"),
    "second_factor_failed": ("identifier", "method", "at", "url"),
}

SAMPLE = {
    "identifier": "adejoux",
    "identifiers": "pmartin\npmartin2",
    "login_url": "https://portal.example.fr/login",
    "url": "https://portal.example.fr/",
    "reset_url": "https://portal.example.fr/forgot",
    "link": "https://portal.example.fr/reset?token=abc.DEF-123_x",
    "temporary_password": "Tmp-7hq2-Xw9z",
    "code": "493027",
    "expires_minutes": "15",
    "expires_hours": "72",
    "at": "2026-01-01T09:30:00+00:00",
    "new_email": "alain.dejoux@nouveau.example.fr",
    "method": "une application d'authentification",
    "left": "7",
}
SECRETS = ("temporary_password", "link", "code")
LOCALES = ("fr", "en")


def message(kind: str, locale: str = "fr", **params: str) -> Message:
    spec = KINDS[kind]
    values = {name: SAMPLE[name] for name in spec.params} | params
    return Message(
        kind, "bob@example.fr", locale, values, channel=spec.channel, secret_params=spec.secrets
    )


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_kinds_are_the_contract() -> None:
    assert set(KINDS) == set(CONTRACT)
    for kind, params in CONTRACT.items():
        spec = KINDS[kind]
        assert spec.params == tuple(p.rstrip("*") for p in params), kind
        assert spec.secrets == {p.rstrip("*") for p in params if p.endswith("*")}, kind
        assert spec.channel == ("sms" if kind == "sms_code" else "email"), kind
    assert DEFAULT_TEMPLATES.kinds == tuple(sorted(CONTRACT))
    assert DEFAULT_TEMPLATES.locales == ("en", "fr")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", sorted(CONTRACT))
def test_every_kind_has_its_texts_in_french_and_english(kind: str, locale: str) -> None:
    found, template = DEFAULT_TEMPLATES.lookup(kind, locale)
    assert found == locale
    if kind == "sms_code":
        assert template.subject == "" and template.html is None
        assert len(template.text.format(**SAMPLE)) <= 160  # one SMS
    else:
        assert template.subject.strip() and template.text.strip()
        assert template.html is not None and template.html.startswith("<!DOCTYPE html>")
        assert f'<html lang="{locale}">' in template.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", sorted(CONTRACT))
def test_templates_use_only_their_kind_parameters(kind: str, locale: str) -> None:
    template = DEFAULT_TEMPLATES.get(kind, locale)
    allowed = set(KINDS[kind].params)
    for text in (template.subject, template.text, template.html or ""):
        assert placeholders(text) <= allowed
    # Every parameter is shown somewhere, and secrets never in the subject.
    assert placeholders(template.text) == allowed
    assert not placeholders(template.subject) & set(SECRETS)


@pytest.mark.parametrize("locale", ["fr", "en", "fr-FR", "en_GB", "FR"])
@pytest.mark.parametrize("kind", sorted(CONTRACT))
def test_every_kind_renders_in_every_locale(kind: str, locale: str) -> None:
    others = {f"other_{name}": f"LEAK-{name}" for name in SECRETS}
    extra = {name: f"LEAK-{name}" for name in SECRETS if name not in KINDS[kind].params}
    rendered = DEFAULT_TEMPLATES.render(message(kind, locale, **others, **extra))
    assert rendered.locale == locale[:2].lower()
    spec = KINDS[kind]
    for name in spec.params:
        assert SAMPLE[name] in rendered.text, name
    for part in (rendered.subject, rendered.text, rendered.html or ""):
        assert "LEAK" not in part
        assert "{" not in part and "}" not in part
    for name in spec.secrets:
        assert rendered.text.count(SAMPLE[name]) == 1
        assert SAMPLE[name] not in rendered.subject
        if rendered.html is not None:
            assert rendered.html.count(SAMPLE[name]) == 1
    if kind == "sms_code":
        assert rendered.html is None and rendered.subject == ""
    else:
        assert rendered.html is not None
        for name in spec.links:
            assert f'href="{SAMPLE[name]}"' in rendered.html


@pytest.mark.parametrize("kind", sorted(CONTRACT))
def test_every_message_says_what_to_do_if_unexpected(kind: str) -> None:
    french = DEFAULT_TEMPLATES.render(message(kind, "fr")).text
    english = DEFAULT_TEMPLATES.render(message(kind, "en")).text
    if kind == "sms_code":
        assert "Vous n'avez rien demandé ? Ignorez" in french
        assert "Did not ask for it? Ignore" in english
        return
    # The last paragraph before the signature tells what to do if the mail was not expected.
    last_fr = french.split("\n\n-- \n")[0].split("\n\n")[-1]
    last_en = english.split("\n\n-- \n")[0].split("\n\n")[-1]
    assert last_fr.startswith(("Si vous n", "Si ces tentatives", "Sinon,")), last_fr
    assert last_en.startswith(("If you did not", "If these attempts")), last_en
    assert "vous" in french and "Bonjour," in french
    assert "merci de ne pas y répondre" in french
    assert "please do not reply" in english


def test_html_escapes_params() -> None:
    rendered = DEFAULT_TEMPLATES.render(
        message("reset_link", identifier='<script>alert("x")</script>')
    )
    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered.html
    # The plain text keeps the value as it is.
    assert '<script>alert("x")</script>' in rendered.text


def test_html_escapes_links_inside_href() -> None:
    link = 'https://portal.example.fr/reset?token=a&b="><script>'
    rendered = DEFAULT_TEMPLATES.render(message("reset_link", link=link))
    assert rendered.html is not None
    assert 'href="https://portal.example.fr/reset?token=a&amp;b=&quot;&gt;&lt;script&gt;"' in (
        rendered.html
    )
    assert "<script>" not in rendered.html
    assert rendered.text.count(link) == 1


def test_html_keeps_line_breaks_of_plain_params() -> None:
    rendered = DEFAULT_TEMPLATES.render(message("identifier_reminder", "en"))
    assert rendered.html is not None
    assert "pmartin<br>\npmartin2" in rendered.html
    assert "pmartin\npmartin2" in rendered.text


@given(st.text(max_size=40))
def test_no_param_value_can_open_a_tag(value: str) -> None:
    rendered = DEFAULT_TEMPLATES.render(message("email_change_notice", "fr", new_email=value))
    assert rendered.html is not None
    body = rendered.html.split("<strong>")[2].split("</strong>")[0]
    assert "<" not in body.replace("<br>", "")
    assert '"' not in body and "'" not in body


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "/reset?token=relative",
        "https://",
        "https://portal.example.fr/reset?token=a b",
        "https://portal.example.fr/\nreset",
        "http://[::1",
        "",
    ],
)
def test_links_must_be_absolute_http_urls(link: str) -> None:
    with pytest.raises(NotificationError, match="'link' must be an absolute http") as caught:
        DEFAULT_TEMPLATES.render(message("reset_link", link=link))
    assert link not in str(caught.value) or not link


def test_both_http_and_https_links_are_accepted() -> None:
    for link in ("http://localhost:8000/reset?token=x", "https://portal.example.fr/r?t=x"):
        assert link in DEFAULT_TEMPLATES.render(message("reset_link", link=link)).text


def test_subject_is_one_line() -> None:
    custom = MailTemplate(
        "Compte {identifier}",
        "{identifier} {link} {expires_minutes}",
        '<a href="{link}">x</a> {identifier} {expires_minutes}',
    )
    templates = Templates(overrides={"fr": {"reset_link": custom}})
    rendered = templates.render(message("reset_link", identifier="a\r\nBcc: eve@example.fr"))
    assert rendered.subject == "Compte a Bcc: eve@example.fr"


# -- overrides and locales -----------------------------------------------------------------------


def test_one_template_can_be_replaced() -> None:
    base = DEFAULT_TEMPLATES.get("reset_link", "fr")
    custom = dataclasses.replace(base, subject="Espace client Sigma : nouveau mot de passe")
    templates = Templates(overrides={"fr": {"reset_link": custom}})
    assert templates.render(message("reset_link")).subject == (
        "Espace client Sigma : nouveau mot de passe"
    )
    # Everything else is unchanged.
    assert templates.get("reset_link", "en") == DEFAULT_TEMPLATES.get("reset_link", "en")
    assert templates.get("reset_code", "fr") == DEFAULT_TEMPLATES.get("reset_code", "fr")
    # The defaults themselves are untouched.
    assert DEFAULT_TEMPLATES.render(message("reset_link")).subject == (
        "Réinitialisation de votre mot de passe"
    )


GERMAN = MailTemplate(
    "Passwort zurücksetzen",
    "Guten Tag,\n\nneues Passwort für {identifier}: {link} ({expires_minutes} min).\n",
    '<p>Guten Tag, <a href="{link}">neues Passwort</a> für {identifier}.</p>',
)


def test_a_locale_can_be_added_and_falls_back_to_english_then_french() -> None:
    templates = Templates(overrides={"DE": {"reset_link": GERMAN}})
    assert templates.locales == ("de", "en", "fr")
    rendered = templates.render(message("reset_link", "de-AT"))
    assert rendered.subject == "Passwort zurücksetzen"
    assert rendered.locale == "de"
    assert rendered.html is not None and 'href="https://portal.example.fr/reset' in rendered.html
    # A kind the new locale lacks is sent in English.
    assert templates.lookup("reset_code", "de")[0] == "en"
    assert templates.render(message("reset_code", "de")).subject == "Your password reset code"
    # A locale without any template is sent in English too.
    assert templates.render(message("reset_link", "es")).locale == "en"


def test_regional_locales_use_their_language() -> None:
    french_only = MailTemplate("Sujet", "{identifier}", "<p>{identifier}</p>")
    templates = Templates(overrides={"fr": {"security_question_changed": french_only}})
    assert templates.render(message("security_question_changed", "fr-CA")).subject == "Sujet"
    assert templates.render(message("security_question_changed", "en")).locale == "en"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"fr": {"no_such_kind": GERMAN}}, "unknown message kind 'no_such_kind'"),
        ({"": {"reset_link": GERMAN}}, "a locale must be a non-empty str"),
        ({"fr": {"reset_link": "text"}}, "must be a MailTemplate"),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, text="{code}")}},
            r"unknown placeholder \{code\}; the parameters of 'reset_link' are: identifier",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, text="{identifier.__class__}")}},
            "unknown placeholder",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, text="{}")}},
            "unknown placeholder",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, text="{identifier")}},
            "malformed template",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, subject="{link}")}},
            "a subject may not show the link or secret",
        ),
        (
            {"fr": {"reset_code": MailTemplate("Code {code}", "{code}", "<p>{code}</p>")}},
            "a subject may not show the link or secret",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, html="<p>{link}</p>")}},
            "a link parameter must be a whole href",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, html='<a href="{link}x">a</a>')}},
            "a link parameter must be a whole href",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, html='<a href="{identifier}">')}},
            "no other parameter may be one",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, html=None)}},
            "an email template needs a subject, a text and an html body",
        ),
        (
            {"fr": {"reset_link": dataclasses.replace(GERMAN, subject=" ")}},
            "an email template needs",
        ),
        (
            {"fr": {"sms_code": MailTemplate("", "{code}", "<p>{code}</p>")}},
            "a sms template has a text only",
        ),
        ({"fr": {"sms_code": MailTemplate("Code", "{code}")}}, "a sms template has a text only"),
    ],
)
def test_bad_overrides_are_refused_at_start_up(overrides: object, error: str) -> None:
    with pytest.raises(ConfigurationError, match=error):
        Templates(overrides=overrides)  # type: ignore[arg-type]


def test_an_sms_template_can_be_replaced() -> None:
    templates = Templates(overrides={"en": {"sms_code": MailTemplate("", "Code {code}")}})
    rendered = templates.render(message("sms_code", "en"))
    assert rendered == RenderedMail("", "Code 493027", None, "en")


# -- errors --------------------------------------------------------------------------------------


def test_an_unknown_kind_raises() -> None:
    with pytest.raises(NotificationError, match="unknown message kind 'welcome'"):
        DEFAULT_TEMPLATES.render(Message("welcome", "bob@example.fr", "fr"))
    with pytest.raises(KeyError, match="no template for message kind 'welcome'"):
        DEFAULT_TEMPLATES.get("welcome", "fr")


def test_a_kind_is_rendered_for_its_channel_only() -> None:
    spec = KINDS["sms_code"]
    email_sms = Message("sms_code", "bob@example.fr", "fr", {"code": "1", "expires_minutes": "5"})
    with pytest.raises(NotificationError, match="'sms_code' is sent by sms, not 'email'"):
        DEFAULT_TEMPLATES.render(email_sms)
    sms_reset = dataclasses.replace(message("reset_link"), channel=spec.channel)
    with pytest.raises(NotificationError, match="'reset_link' is sent by email, not 'sms'"):
        DEFAULT_TEMPLATES.render(sms_reset)


def test_missing_params_are_named_without_values() -> None:
    incomplete = Message(
        "reset_link", "bob@example.fr", "fr", {"link": SAMPLE["link"]}, secret_params={"link"}
    )
    with pytest.raises(NotificationError) as caught:
        DEFAULT_TEMPLATES.render(incomplete)
    assert str(caught.value) == (
        "message 'reset_link' lacks the parameter(s): identifier, expires_minutes"
    )


@pytest.mark.parametrize("locale", ["", "  "])
def test_an_empty_locale_raises(locale: str) -> None:
    with pytest.raises(NotificationError, match="locale"):
        DEFAULT_TEMPLATES.render(message("reset_link", locale))


def test_reprs_leave_bodies_out() -> None:
    rendered = DEFAULT_TEMPLATES.render(message("reset_code"))
    assert "493027" not in repr(rendered)
    assert repr(rendered) == "RenderedMail(subject='Votre code de réinitialisation', locale='fr')"
    assert repr(DEFAULT_TEMPLATES) == "Templates(locales=('en', 'fr'))"


def test_params_are_formatted_as_strings() -> None:
    numeric = Message(
        "reset_link",
        "bob@example.fr",
        "en",
        {"identifier": "bob", "link": SAMPLE["link"], "expires_minutes": 15},  # type: ignore[dict-item]
        secret_params=frozenset({"link"}),
    )
    assert "valid for 15 min" in DEFAULT_TEMPLATES.render(numeric).text


# -- the Outbox, for tests ---------------------------------------------------------------------


def test_outbox_messages_render_like_sent_mail() -> None:
    outbox = Outbox()
    assert isinstance(outbox, Notifier)
    outbox.send(message("identifier"))
    outbox.send(message("temporary_password"))
    outbox.send(Message("reset_link", "other@example.fr", "en", message("reset_link").params))
    assert repr(outbox) == "Outbox(3 messages)"
    assert [m.kind for m in outbox.for_recipient("BOB@example.fr")] == [
        "identifier",
        "temporary_password",
    ]
    last = outbox.last("temporary_password")
    assert last is not None
    assert SAMPLE["temporary_password"] not in repr(last)
    assert "'temporary_password': '***'" in repr(last)
    assert SAMPLE["temporary_password"] in DEFAULT_TEMPLATES.render(last).text
    assert outbox.last() is outbox.messages[-1]
    assert outbox.last("sms_code") is None
    outbox.clear()
    assert outbox.messages == ()
