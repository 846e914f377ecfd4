"""Password policy: ``presets.classic().evaluate`` against Django's ``validate_password``.

The issue's benchmark: the same 1,000 passwords, in the same run, through credflow's
``classic()`` preset (locale fr) and through Django's four default validators
(``UserAttributeSimilarityValidator``, ``MinimumLengthValidator``, ``CommonPasswordValidator``,
``NumericPasswordValidator``, default options). Target: credflow's time per call is at most
0.5× Django's. A second row, for information, gives credflow the identifier ``adejoux`` and
Django a user whose ``username`` is ``adejoux``.
"""

from __future__ import annotations

import contextlib
import random
import string
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import Benchmark, Row, Settings, Table, measure_interleaved, setup_django

__all__ = ["BENCHMARK", "IDENTIFIER", "SEED", "TARGET", "make_passwords", "run"]

SEED = 2026
COUNT = 1_000
TARGET = 0.5
IDENTIFIER = "adejoux"

# A small mixed French/English vocabulary for passphrase-like candidates.
_WORD_LINES = (
    "correct horse battery staple soleil maison jardin bleu rouge vert chat chien",
    "lune mer montagne riviere pomme orange cafe matin soir hiver ete printemps",
    "automne train velo livre plume nuage etoile foret sable vent pluie neige fleur",
    "arbre pont route ville coffee table window river garden silver golden tiger",
    "purple dragon castle winter summer",
)
_WORDS = tuple(word for line in _WORD_LINES for word in line.split())
_SPECIALS = "!@#$%^&*()-_=+[]{};:,.?/<>~"
# é precomposed and decomposed (e + U+0301, as some keyboards and pastes give it), ß, ç, ü,
# and two emoji outside the BMP.
_NON_ASCII = ("é", "e\u0301", "ß", "ç", "ü", "😀", "🔒")


def _common(rng: random.Random, pool: Sequence[str]) -> str:
    word = rng.choice(pool)
    style = rng.random()
    if style < 0.2:
        return word.capitalize()
    if style < 0.25:
        return word.upper()
    return word


def _alphanumeric(rng: random.Random) -> str:
    length = rng.randint(6, 16)
    style = rng.random()
    if style < 0.3:
        alphabet = string.ascii_lowercase + string.digits
    elif style < 0.4:
        alphabet = string.ascii_uppercase + string.digits
    else:
        alphabet = string.ascii_letters + string.digits
    text = "".join(rng.choices(alphabet, k=length))
    if style >= 0.8:
        text = text.capitalize()  # "Xxxxxx123"-shaped
    return text


def _passphrase(rng: random.Random) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(3, 5)))


def _special(rng: random.Random) -> str:
    length = rng.randint(8, 20)
    alphabet = string.ascii_letters + string.digits + _SPECIALS
    chars = rng.choices(alphabet, k=length)
    chars[rng.randrange(length)] = rng.choice(_SPECIALS)
    if rng.random() < 0.3:
        chars.insert(rng.randrange(length + 1), rng.choice(_NON_ASCII))
    return "".join(chars)


def make_passwords(count: int = COUNT, seed: int = SEED) -> list[str]:
    """The deterministic test set: 30% common, 40% alphanumeric, 20% passphrase, 10% special.

    The common ones come from credflow's bundled list (sorted first, so the draw does not
    depend on the string hash seed), a quarter of them capitalised or upper-cased.
    """
    from credflow.policy.common import common_passwords

    rng = random.Random(seed)
    pool = sorted(common_passwords())
    n_common, n_alnum, n_phrase = count * 30 // 100, count * 40 // 100, count * 20 // 100
    n_special = count - n_common - n_alnum - n_phrase
    passwords = [_common(rng, pool) for _ in range(n_common)]
    passwords += [_alphanumeric(rng) for _ in range(n_alnum)]
    passwords += [_passphrase(rng) for _ in range(n_phrase)]
    passwords += [_special(rng) for _ in range(n_special)]
    rng.shuffle(passwords)
    return passwords


class _User:
    """The smallest user ``UserAttributeSimilarityValidator`` accepts.

    When a password is too similar, the validator asks ``user._meta.get_field(name)`` for the
    field's verbose name and falls back to the attribute name on ``FieldDoesNotExist``; an
    object without ``_meta`` would raise ``AttributeError`` instead.
    """

    def __init__(self, username: str) -> None:
        self.username = username
        self._meta = self

    @staticmethod
    def get_field(name: str) -> Any:
        from django.core.exceptions import FieldDoesNotExist

        raise FieldDoesNotExist(name)


def _credflow_batch(passwords: Sequence[str], identifier: str | None) -> Callable[[], None]:
    from credflow.policy import presets

    evaluate = presets.classic().evaluate
    evaluate(passwords[0], identifier=identifier)  # warm-up: the first call per locale compiles

    if identifier is None:

        def batch() -> None:
            for password in passwords:
                evaluate(password)

    else:

        def batch() -> None:
            for password in passwords:
                evaluate(password, identifier=identifier)

    return batch


def _django_batch(passwords: Sequence[str], user: _User | None) -> Callable[[], None]:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    def batch() -> None:
        for password in passwords:
            try:  # noqa: SIM105 - contextlib.suppress would add its own cost to the timing
                validate_password(password, user)
            except ValidationError:
                pass

    # Warm-up: loads the validators (and Django's common list) and the French catalogue.
    with contextlib.suppress(ValidationError):
        validate_password(passwords[0], user)
    return batch


def _rejections(passwords: Sequence[str]) -> tuple[int, int]:
    """How many passwords each side refuses (untimed; a sanity check, not a measurement)."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from credflow.policy import presets

    policy = presets.classic()
    ours = sum(not policy.evaluate(password).ok for password in passwords)
    theirs = 0
    for password in passwords:
        try:
            validate_password(password)
        except ValidationError:
            theirs += 1
    return ours, theirs


def run(settings: Settings) -> Table:
    """Measure both variants and return the table."""
    setup_django()
    passwords = make_passwords()
    rows: list[Row] = []
    variants: list[tuple[str, str | None, float | None]] = [
        ("policy", None, TARGET),
        ("policy (with identifier)", IDENTIFIER, None),
    ]
    for name, identifier, target in variants:
        user = None if identifier is None else _User(identifier)
        ours, theirs = measure_interleaved(
            [_credflow_batch(passwords, identifier), _django_batch(passwords, user)],
            calls=len(passwords),
            repetitions=settings.repetitions,
        )
        rows.append(Row(name, ours, theirs, target))
    refused_ours, refused_theirs = _rejections(passwords)
    non_ascii = sum(not password.isascii() for password in passwords)
    notes = (
        "credflow: presets.classic().evaluate(pw), locale fr (max 128, min 8, lower, upper, "
        "digit, not identifier, not common); built once, one warm-up call.",
        "Django: validate_password(pw) with Django's defaults: its four default validators "
        "with default options (similarity 0.7, min length 8, its bundled common list, "
        "numeric), USE_I18N=True, LANGUAGE_CODE='fr', auth app installed; one warm-up call.",
        f"inputs: the same {len(passwords)} passwords for both (random.Random({SEED}); "
        f"30% common, 40% alphanumeric, 20% passphrase, 10% special; {non_ascii} non-ASCII). "
        f"Refused: credflow {refused_ours}, Django {refused_theirs} (different rules).",
        "identifier row: credflow evaluate(pw, identifier='adejoux'); Django "
        "validate_password(pw, user) with a user whose username is 'adejoux'.",
        "ratio = credflow median / Django median; target ≤ 0.5×.",
    )
    return Table(
        title="Password policy: credflow classic() vs Django validate_password (1,000 passwords)",
        reference="django",
        rows=tuple(rows),
        notes=notes,
    )


BENCHMARK = Benchmark(
    name="policy",
    summary="classic() preset evaluate vs Django validate_password (4 default validators)",
    run=run,
)
