"""French message catalogue (the default locale)."""

from __future__ import annotations

from credflow.messages.plural import Plural

CATALOG: dict[str, str | Plural] = {
    # Checklist labels, one per password rule code.
    "rule.max_length": Plural("max", "Au plus {max} caractère", "Au plus {max} caractères"),
    "rule.min_length": Plural("min", "Au moins {min} caractère", "Au moins {min} caractères"),
    "rule.lowercase": Plural(
        "min", "Au moins une lettre minuscule", "Au moins {min} lettres minuscules"
    ),
    "rule.uppercase": Plural(
        "min", "Au moins une lettre majuscule", "Au moins {min} lettres majuscules"
    ),
    "rule.digit": Plural("min", "Au moins un chiffre", "Au moins {min} chiffres"),
    "rule.special": Plural(
        "min",
        "Au moins un caractère spécial parmi : {alphabet}",
        "Au moins {min} caractères spéciaux parmi : {alphabet}",
    ),
    "rule.not_identifier": "Ne contient pas votre identifiant",
    "rule.not_common": "N'est pas un mot de passe courant",
    "rule.no_sequence": "Pas de suite évidente de {min_run} caractères (1234, abcd, azerty…)",
    "rule.not_breached": "N'apparaît pas dans une fuite de données connue",
    "rule.history": Plural(
        "count",
        "Différent de votre dernier mot de passe",
        "Différent de vos {count} derniers mots de passe",
    ),
    "rule.min_strength": "Assez difficile à deviner (force {score} sur 4 au moins)",
    # Clauses of the summary sentence ("doit contenir … ").
    "clause.min_length": Plural("min", "au moins {min} caractère", "au moins {min} caractères"),
    "clause.lowercase": Plural(
        "min", "au moins une lettre minuscule", "au moins {min} lettres minuscules"
    ),
    "clause.uppercase": Plural(
        "min", "au moins une lettre majuscule", "au moins {min} lettres majuscules"
    ),
    "clause.digit": Plural("min", "au moins un chiffre", "au moins {min} chiffres"),
    "clause.special": Plural(
        "min",
        "au moins un caractère spécial parmi {alphabet}",
        "au moins {min} caractères spéciaux parmi {alphabet}",
    ),
    "policy.summary": "Votre nouveau mot de passe doit contenir {clauses}.",
    "policy.join.pair": " et ",
    "policy.join.last": ", et ",
    # Stand-alone requirement sentences for the rules that are not "contains" clauses.
    "sentence.max_length": Plural(
        "max",
        "Votre mot de passe ne doit pas dépasser {max} caractère.",
        "Votre mot de passe ne doit pas dépasser {max} caractères.",
    ),
    "sentence.not_identifier": "Votre mot de passe ne doit pas contenir votre identifiant.",
    "sentence.not_common": "Votre mot de passe ne doit pas être un mot de passe courant.",
    "sentence.no_sequence": (
        "Votre mot de passe ne doit pas contenir de suite évidente de {min_run} caractères "
        "(1234, abcd, azerty…)."
    ),
    "sentence.not_breached": (
        "Votre mot de passe ne doit pas figurer dans une fuite de données connue."
    ),
    "sentence.history": Plural(
        "count",
        "Votre mot de passe doit être différent du précédent.",
        "Votre mot de passe doit être différent des {count} précédents.",
    ),
    "sentence.min_strength": "Votre mot de passe doit être assez difficile à deviner.",
    # Security answer rules.
    "answer.max_length": Plural(
        "max",
        "La réponse compte au plus {max} caractère",
        "La réponse compte au plus {max} caractères",
    ),
    "answer.min_length": Plural(
        "min",
        "La réponse compte au moins {min} caractère",
        "La réponse compte au moins {min} caractères",
    ),
    "answer.sequence": "La réponse n'est pas une suite évidente (1234, abcdef, azerty…)",
    "answer.not_identifier": "La réponse n'est pas votre identifiant",
    "answer.not_in_question": "La réponse ne figure pas dans la question",
    "answer.not_common": "La réponse n'est pas trop courante (motdepasse, 0000…)",
    "answer.not_password": "La réponse n'est pas votre mot de passe",
    "answer.guidance": (
        "La réponse ne doit être connue que de vous ou d'un petit nombre de personnes de "
        "confiance. Évitez les suites évidentes (1234, abcdef, azerty…) et les informations "
        "que l'on peut trouver sur votre CV ou sur Internet."
    ),
    # Login and flows.
    "login.denied": "Identifiant ou mot de passe incorrect.",
    "invalid.input": "Saisie invalide.",
    "invalid.identifier": (
        "Identifiant invalide : il ne doit être ni vide, ni trop long, ni contenir de caractères "
        "invisibles."
    ),
    "invalid.email": "Adresse électronique invalide.",
    "invalid.new_email": "Adresse électronique invalide.",
    "invalid.password": "Le mot de passe ne doit pas dépasser {max} caractères.",
    "invalid.code": "Code invalide : vérifiez le nombre et le type de caractères saisis.",
    "invalid.phone": "Numéro de téléphone invalide : saisissez-le au format international "
    "(+33 6 12 34 56 78).",
    "invalid.registration_number": (
        "Numéro invalide : un SIRET compte 14 chiffres, un SIREN 9, et leur clé de contrôle doit "
        "être juste."
    ),
    "invalid.name": "Nom invalide.",
    "invalid.roles": "Rôles invalides.",
    "invalid.issuer": "Nom de service invalide pour l'application d'authentification.",
    "login.authenticated": "Vous êtes connecté.",
    "login.mfa_required": "Saisissez le code de vérification pour terminer la connexion.",
    "action.change_password": "Votre mot de passe a expiré. Veuillez changer de mot de passe.",
    "action.enroll_security_question": (
        "Veuillez enregistrer une question et une réponse de sécurité."
    ),
    "action.verify_email": "Veuillez confirmer votre adresse électronique.",
    "action.enroll_totp": "Veuillez configurer la vérification en deux étapes.",
    "mfa.totp_started": (
        "Scannez le QR code avec votre application d'authentification (ou saisissez la clé), "
        "puis saisissez le code à 6 chiffres qu'elle affiche."
    ),
    "mfa.confirmed": "La vérification en deux étapes est activée.",
    "mfa.already_enrolled": (
        "Cette méthode est déjà configurée. Désactivez-la d'abord pour la configurer à nouveau."
    ),
    "mfa.not_started": "Cette configuration n'est plus valable. Veuillez recommencer.",
    "mfa.not_enrolled": "Cette méthode n'est pas configurée sur votre compte.",
    "mfa.code_sent": "Un code vous a été envoyé par SMS au numéro se terminant par {phone_end}.",
    "mfa.code_wrong": "Code incorrect.",
    "mfa.code_expired": "Ce code a expiré. Demandez un nouveau code.",
    "mfa.code_burned": "Trop de codes erronés. Demandez un nouveau code.",
    "mfa.too_many_codes": "Trop de codes envoyés. Veuillez réessayer dans quelques minutes.",
    "mfa.no_phone": "Aucun numéro de téléphone n'est configuré pour ce compte.",
    "mfa.verified": "Vous êtes connecté.",
    "mfa.recovery_code_used": Plural(
        "left",
        "Vous êtes connecté avec un code de récupération. Il vous reste {left} code.",
        "Vous êtes connecté avec un code de récupération. Il vous reste {left} codes.",
    ),
    "mfa.locked": (
        "Trop de tentatives échouées : votre compte est bloqué pour le moment. Réessayez plus "
        "tard, ou utilisez le lien que nous vous avons envoyé par courriel."
    ),
    "mfa.password_wrong": "Mot de passe incorrect.",
    "mfa.disabled": "Cette méthode de vérification en deux étapes est désactivée.",
    "mfa.recovery_codes": (
        "Voici vos nouveaux codes de récupération. Conservez-les en lieu sûr : chacun ne sert "
        "qu'une fois, ils ne seront plus affichés, et les anciens ne fonctionnent plus."
    ),
    "mfa.method_totp": "une application d'authentification",
    "mfa.method_sms": "un code envoyé par SMS",
    "mfa.method_recovery_code": "un code de récupération",
    "recovery.mfa": (
        "Confirmez votre identité : saisissez le code de votre application d'authentification, "
        "un code reçu par SMS, ou l'un de vos codes de récupération."
    ),
    "flow.invalid": "Cette étape n'est plus valide. Veuillez vous reconnecter.",
    "flow.expired": "Le délai est dépassé. Veuillez vous reconnecter.",
    "flow.completed": "Authentification réussie.",
    "flow.reauthenticate": (
        "Votre nouveau mot de passe a été enregistré. Veuillez vous reconnecter."
    ),
    "password.changed": "Votre mot de passe a été modifié.",
    "password.old_wrong": "Identifiant ou mot de passe actuel incorrect.",
    "password.confirmation_differs": "La confirmation ne correspond pas au nouveau mot de passe.",
    "password.policy_not_met": "Le nouveau mot de passe ne respecte pas les règles.",
    "password.same_as_old": "Le nouveau mot de passe doit être différent de l'actuel.",
    "question.enrolled": "Votre question de sécurité a été enregistrée.",
    "question.invalid": Plural(
        "max",
        "La question doit contenir entre 1 et {max} caractère.",
        "La question doit contenir entre 1 et {max} caractères.",
    ),
    "question.not_offered": "Choisissez une question dans la liste.",
    "question.answer_not_met": "La réponse ne respecte pas les règles.",
    "unlock.done": "Votre compte est débloqué. Vous pouvez vous reconnecter.",
    "unlock.invalid": "Ce lien de déblocage n'est pas valide.",
    "unlock.resent": "Si votre compte est bloqué, un nouveau lien vient de vous être envoyé.",
    "unlock.expired": "Ce lien de déblocage a expiré.",
    "recovery.human_check_failed": "Le résultat de l'opération est incorrect. Veuillez réessayer.",
    "recovery.question": "Vérifiez votre identité en répondant à la question de sécurité.",
    "recovery.answer_wrong": Plural(
        "attempts",
        "Réponse incorrecte. Il vous reste {attempts} essai.",
        "Réponse incorrecte. Il vous reste {attempts} essais.",
    ),
    "recovery.failed": "Trop d'essais. Veuillez recommencer plus tard.",
    "recovery.link_sent": Plural(
        "minutes",
        "Si vos informations sont correctes, vous allez recevoir un courriel de "
        "réinitialisation de votre mot de passe. Ce lien a une durée de validité de "
        "{minutes} minute.",
        "Si vos informations sont correctes, vous allez recevoir un courriel de "
        "réinitialisation de votre mot de passe. Ce lien a une durée de validité de "
        "{minutes} minutes.",
    ),
    "recovery.code_sent": "Si vos informations sont correctes, un code vient de vous être envoyé.",
    "recovery.code_wrong": Plural(
        "attempts",
        "Code incorrect. Il vous reste {attempts} essai.",
        "Code incorrect. Il vous reste {attempts} essais.",
    ),
    "recovery.new_password": "Choisissez votre nouveau mot de passe.",
    "recovery.completed": "Votre mot de passe a été modifié.",
    "recovery.link_invalid": "Ce lien n'est pas valide.",
    "recovery.link_expired": Plural(
        "minutes",
        "Ce lien a expiré. Vous pouvez demander un nouveau lien, valable {minutes} minute.",
        "Ce lien a expiré. Vous pouvez demander un nouveau lien, valable {minutes} minutes.",
    ),
    "recovery.link_resent": "Si ce lien était le vôtre, un nouveau lien vient de vous être envoyé.",
    "recovery.support_required": (
        "Aucune question secrète n'est enregistrée pour ce compte. Veuillez contacter l'assistance."
    ),
    "recovery.invalid": "Cette demande n'est plus valide. Veuillez recommencer.",
    "recovery.expired": "Le délai est dépassé. Veuillez recommencer.",
    "reminder.sent": (
        "Si cette adresse est connue, vous allez recevoir un courriel avec votre ou vos "
        "identifiants."
    ),
    "session.invalid": "Votre session a pris fin. Veuillez vous reconnecter.",
    "organisation.switched": "Vous travaillez maintenant pour : {organisation}.",
    "organisation.not_member": "Vous n'êtes pas membre de cette organisation.",
    "organisation.pending_approval": (
        "Votre accès à cette organisation attend la validation d'un de ses administrateurs."
    ),
    "organisation.disabled": (
        "Votre accès à cette organisation a été désactivé. Contactez un de ses administrateurs."
    ),
    "registration.code_sent": (
        "Nous vous avons envoyé un courriel. Saisissez le code de vérification qu'il contient "
        "pour activer votre compte."
    ),
    "registration.code_resent": (
        "Nous vous avons envoyé un nouveau courriel. Seul le dernier code reçu est valable."
    ),
    "registration.code_wrong": Plural(
        "attempts",
        "Code incorrect. Il vous reste {attempts} essai.",
        "Code incorrect. Il vous reste {attempts} essais.",
    ),
    "registration.code_expired": "Ce code a expiré. Demandez un nouveau code.",
    "registration.failed": "Trop d'essais. Veuillez vous inscrire à nouveau.",
    "registration.expired": "Le délai est dépassé. Veuillez vous inscrire à nouveau.",
    "registration.invalid": (
        "Cette inscription n'est plus valide. Veuillez vous inscrire à nouveau."
    ),
    "registration.verified": "Votre adresse électronique est confirmée : votre compte est activé.",
    "registration.email_taken": "Cette adresse électronique est déjà utilisée par un autre compte.",
    "registration.identifier_taken": "Cet identifiant est déjà pris. Veuillez en choisir un autre.",
    "registration.too_many": (
        "Trop de demandes pour cette adresse. Veuillez réessayer dans quelques minutes."
    ),
    "registration.disabled": "Les inscriptions sont fermées.",
    "email_change.code_sent": (
        "Un code de vérification a été envoyé à votre nouvelle adresse. Saisissez-le pour "
        "confirmer le changement."
    ),
    "email_change.code_resent": (
        "Un nouveau code a été envoyé à votre nouvelle adresse. Seul le dernier code reçu est "
        "valable."
    ),
    "email_change.code_wrong": Plural(
        "attempts",
        "Code incorrect. Il vous reste {attempts} essai.",
        "Code incorrect. Il vous reste {attempts} essais.",
    ),
    "email_change.code_expired": "Ce code a expiré. Demandez un nouveau code.",
    "email_change.failed": "Trop d'essais. Votre adresse électronique n'a pas changé.",
    "email_change.expired": "Le délai est dépassé. Votre adresse électronique n'a pas changé.",
    "email_change.invalid": (
        "Cette demande n'est plus valide. Votre adresse électronique n'a pas changé."
    ),
    "email_change.completed": "Votre adresse électronique a été modifiée.",
    "email_change.email_taken": (
        "Cette adresse électronique est déjà utilisée par un autre compte. Votre adresse "
        "électronique n'a pas changé."
    ),
    "email_change.same_address": "C'est déjà l'adresse électronique de votre compte.",
    "email_change.password_required": (
        "Saisissez votre mot de passe actuel pour changer d'adresse électronique."
    ),
    "email_change.password_wrong": "Mot de passe incorrect.",
    "email_change.too_many": "Trop de demandes. Veuillez réessayer dans quelques minutes.",
}
