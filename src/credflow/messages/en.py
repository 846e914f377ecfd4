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
    "policy.join.pair": " and ",
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
    "answer.not_password": "The answer is not your password",
    "answer.guidance": (
        "Only you, or a few people you trust, should know the answer. Avoid obvious runs "
        "(1234, abcdef, qwerty…) and facts that can be found on your CV or on the Internet."
    ),
    "login.denied": "Incorrect identifier or password.",
    "invalid.input": "Invalid input.",
    "invalid.identifier": (
        "Invalid identifier: it must not be empty, too long, or hold invisible characters."
    ),
    "invalid.email": "Invalid email address.",
    "invalid.new_email": "Invalid email address.",
    "invalid.password": "A password must not be longer than {max} characters.",
    "invalid.code": "Invalid code: check how many characters you typed, and which.",
    "invalid.phone": "Invalid phone number: type it in international form (+33 6 12 34 56 78).",
    "invalid.registration_number": (
        "Invalid number: a SIRET has 14 digits, a SIREN 9, and their check digit must be right."
    ),
    "invalid.name": "Invalid name.",
    "invalid.roles": "Invalid roles.",
    "invalid.issuer": "Invalid service name for the authenticator app.",
    "login.authenticated": "You are signed in.",
    "login.mfa_required": "Enter your verification code to finish signing in.",
    "action.change_password": "Your password has expired. Please change your password.",
    "action.enroll_security_question": "Please set a security question and its answer.",
    "action.verify_email": "Please confirm your email address.",
    "action.enroll_totp": "Please set up two-step verification.",
    "mfa.totp_started": (
        "Scan the QR code with your authentication app (or type the key), then enter the "
        "6-digit code it shows."
    ),
    "mfa.confirmed": "Two-step verification is on.",
    "mfa.already_enrolled": "This method is already set up. Turn it off first to set it up again.",
    "mfa.not_started": "This set-up is no longer valid. Please start again.",
    "mfa.not_enrolled": "This method is not set up on your account.",
    "mfa.code_sent": "A code has been sent by text message to your number ending in {phone_end}.",
    "mfa.code_wrong": "Incorrect code.",
    "mfa.code_expired": "This code has expired. Ask for a new code.",
    "mfa.code_burned": "Too many wrong codes. Ask for a new code.",
    "mfa.too_many_codes": "Too many codes were sent. Please try again in a few minutes.",
    "mfa.no_phone": "No phone number is set up for this account.",
    "mfa.verified": "You are signed in.",
    "mfa.recovery_code_used": Plural(
        "left",
        "You are signed in with a recovery code. You have {left} code left.",
        "You are signed in with a recovery code. You have {left} codes left.",
    ),
    "mfa.locked": (
        "Too many failed attempts: your account is locked for now. Try again later, or use the "
        "link we emailed you."
    ),
    "mfa.password_wrong": "Incorrect password.",
    "mfa.disabled": "This two-step verification method is off.",
    "mfa.recovery_codes": (
        "Here are your new recovery codes. Keep them somewhere safe: each works once, they will "
        "not be shown again, and the old ones no longer work."
    ),
    "mfa.method_totp": "an authentication app",
    "mfa.method_sms": "a code sent by text message",
    "mfa.method_recovery_code": "a recovery code",
    "recovery.mfa": (
        "Confirm it is you: enter the code from your authentication app, a code sent by text "
        "message, or one of your recovery codes."
    ),
    "flow.invalid": "This step is no longer valid. Please sign in again.",
    "flow.expired": "Time ran out. Please sign in again.",
    "flow.completed": "You are signed in.",
    "flow.reauthenticate": "Your new password is saved. Please sign in again.",
    "password.changed": "Your password has been changed.",
    "password.old_wrong": "Incorrect identifier or current password.",
    "password.confirmation_differs": "The confirmation does not match the new password.",
    "password.policy_not_met": "The new password does not meet the rules.",
    "password.same_as_old": "The new password must differ from the current one.",
    "question.enrolled": "Your security question has been saved.",
    "question.invalid": Plural(
        "max",
        "The question must have between 1 and {max} character.",
        "The question must have between 1 and {max} characters.",
    ),
    "question.not_offered": "Choose a question from the list.",
    "question.answer_not_met": "The answer does not meet the rules.",
    "unlock.done": "Your account is unlocked. You can sign in again.",
    "unlock.invalid": "This unlock link is not valid.",
    "unlock.resent": "If your account is locked, a new link has just been sent to you.",
    "unlock.expired": "This unlock link has expired.",
    "recovery.human_check_failed": "The result of the sum is wrong. Please try again.",
    "recovery.question": "Confirm who you are by answering your security question.",
    "recovery.answer_wrong": Plural(
        "attempts",
        "Wrong answer. You have {attempts} try left.",
        "Wrong answer. You have {attempts} tries left.",
    ),
    "recovery.failed": "Too many tries. Please start again later.",
    "recovery.link_sent": Plural(
        "minutes",
        "If your details are right, you will receive an email to reset your password. The link "
        "is valid for {minutes} minute.",
        "If your details are right, you will receive an email to reset your password. The link "
        "is valid for {minutes} minutes.",
    ),
    "recovery.code_sent": "If your details are right, a code has just been sent to you.",
    "recovery.code_wrong": Plural(
        "attempts",
        "Wrong code. You have {attempts} try left.",
        "Wrong code. You have {attempts} tries left.",
    ),
    "recovery.new_password": "Choose your new password.",
    "recovery.completed": "Your password has been changed.",
    "recovery.link_invalid": "This link is not valid.",
    "recovery.link_expired": Plural(
        "minutes",
        "This link has expired. You can ask for a new link, valid for {minutes} minute.",
        "This link has expired. You can ask for a new link, valid for {minutes} minutes.",
    ),
    "recovery.link_resent": "If this link was yours, a new link has just been sent to you.",
    "recovery.support_required": (
        "No security question is set for this account. Please contact support."
    ),
    "recovery.invalid": "This request is no longer valid. Please start again.",
    "recovery.expired": "Time ran out. Please start again.",
    "reminder.sent": "If this address is known, you will receive an email with your identifier(s).",
    "session.invalid": "Your session has ended. Please sign in again.",
    "organisation.switched": "You are now working for: {organisation}.",
    "organisation.not_member": "You are not a member of this organisation.",
    "organisation.pending_approval": (
        "Your access to this organisation is waiting for one of its administrators to approve it."
    ),
    "organisation.disabled": (
        "Your access to this organisation has been deactivated. Contact one of its administrators."
    ),
    "registration.code_sent": (
        "We have sent you an email. Enter the verification code it contains to activate your "
        "account."
    ),
    "registration.code_resent": "We have sent you a new email. Only the newest code works.",
    "registration.code_wrong": Plural(
        "attempts",
        "Wrong code. You have {attempts} try left.",
        "Wrong code. You have {attempts} tries left.",
    ),
    "registration.code_expired": "This code has expired. Ask for a new code.",
    "registration.failed": "Too many tries. Please register again.",
    "registration.expired": "Time ran out. Please register again.",
    "registration.invalid": "This registration is no longer valid. Please register again.",
    "registration.verified": "Your email address is confirmed: your account is active.",
    "registration.email_taken": "This email address is already used by another account.",
    "registration.identifier_taken": "This identifier is taken. Please choose another one.",
    "registration.too_many": (
        "Too many requests for this address. Please try again in a few minutes."
    ),
    "registration.disabled": "Registration is closed.",
    "email_change.code_sent": (
        "A verification code has been sent to your new address. Enter it to confirm the change."
    ),
    "email_change.code_resent": (
        "A new code has been sent to your new address. Only the newest code works."
    ),
    "email_change.code_wrong": Plural(
        "attempts",
        "Wrong code. You have {attempts} try left.",
        "Wrong code. You have {attempts} tries left.",
    ),
    "email_change.code_expired": "This code has expired. Ask for a new code.",
    "email_change.failed": "Too many tries. Your email address has not changed.",
    "email_change.expired": "Time ran out. Your email address has not changed.",
    "email_change.invalid": "This request is no longer valid. Your email address has not changed.",
    "email_change.completed": "Your email address has been changed.",
    "email_change.email_taken": (
        "Another account already uses this email address. Your own address has not changed."
    ),
    "email_change.same_address": "This is already your account's email address.",
    "email_change.password_required": "Enter your current password to change your address.",
    "email_change.password_wrong": "Incorrect password.",
    "email_change.too_many": "Too many requests. Please try again in a few minutes.",
}
