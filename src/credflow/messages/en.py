"""English message catalogue."""

from __future__ import annotations

from credflow.messages.plural import Plural

CATALOG: dict[str, str | Plural] = {
    "rule.max_length": Plural("max", "At most {max} character", "At most {max} characters"),
    "rule.min_length": Plural("min", "At least {min} character", "At least {min} characters"),
    "rule.lowercase": Plural(
        "min", "At least one lowercase letter", "At least {min} lowercase letters"
    ),
    "rule.uppercase": Plural(
        "min", "At least one uppercase letter", "At least {min} uppercase letters"
    ),
    "rule.digit": Plural("min", "At least one digit", "At least {min} digits"),
    "rule.special": Plural(
        "min",
        "At least one special character from: {alphabet}",
        "At least {min} special characters from: {alphabet}",
    ),
    "rule.not_identifier": "Does not contain your identifier",
    "rule.not_common": "Is not a common password",
    "rule.no_sequence": "No obvious run of {min_run} characters (1234, abcd, qwerty…)",
    "rule.not_breached": "Does not appear in a known data breach",
    "rule.history": Plural(
        "count",
        "Differs from your last password",
        "Differs from your last {count} passwords",
    ),
    "rule.min_strength": "Hard enough to guess (strength at least {score} out of 4)",
    "clause.min_length": Plural("min", "at least {min} character", "at least {min} characters"),
    "clause.lowercase": Plural(
        "min", "at least one lowercase letter", "at least {min} lowercase letters"
    ),
    "clause.uppercase": Plural(
        "min", "at least one uppercase letter", "at least {min} uppercase letters"
    ),
    "clause.digit": Plural("min", "at least one digit", "at least {min} digits"),
    "clause.special": Plural(
        "min",
        "at least one special character from {alphabet}",
        "at least {min} special characters from {alphabet}",
    ),
    "policy.summary": "Your new password must contain {clauses}.",
    "policy.join.last": ", and ",
    "sentence.max_length": Plural(
        "max",
        "Your password must not be longer than {max} character.",
        "Your password must not be longer than {max} characters.",
    ),
    "sentence.not_identifier": "Your password must not contain your identifier.",
    "sentence.not_common": "Your password must not be a common password.",
    "sentence.no_sequence": (
        "Your password must not contain an obvious run of {min_run} characters "
        "(1234, abcd, qwerty…)."
    ),
    "sentence.not_breached": "Your password must not appear in a known data breach.",
    "sentence.history": Plural(
        "count",
        "Your password must differ from the previous one.",
        "Your password must differ from the previous {count}.",
    ),
    "sentence.min_strength": "Your password must be hard enough to guess.",
    "answer.max_length": Plural(
        "max", "The answer has at most {max} character", "The answer has at most {max} characters"
    ),
    "answer.min_length": Plural(
        "min", "The answer has at least {min} character", "The answer has at least {min} characters"
    ),
    "answer.sequence": "The answer is not an obvious run (1234, abcdef, qwerty…)",
    "answer.not_identifier": "The answer is not your identifier",
    "answer.not_in_question": "The answer does not appear in the question",
    "answer.not_common": "The answer is not too common (password, 0000…)",
    "answer.guidance": (
        "Only you, or a few people you trust, should know the answer. Avoid obvious runs "
        "(1234, abcdef, qwerty…) and facts that can be found on your CV or on the Internet."
    ),
}
