"""A scripted tour of the portal policies, in a terminal (``make demo`` starts the portal).

For each portal file in ``examples/portals/`` (the five portals, and the NIST recommendation),
print the requirement sentence the form shows, then the live checklist for a few passwords, as a
person would see it while typing, and the security-answer checks where the portal has them.
"""

from __future__ import annotations

from pathlib import Path

from credflow.policy import load_answer_policy, load_policy

PORTALS = Path(__file__).parent / "portals"
TRIES = ("bleu", "Bleu2024", "adejoux2024A", "Bleu2024$", "correct horse battery staple")
MARK = {"passed": "✓", "failed": "✗", "skipped": "–"}


def show(name: str, path: Path) -> None:
    policy = load_policy(path)
    print(f"\n=== {name} ({path.name}) ===")
    print(policy.describe("fr").text)
    for candidate in TRIES:
        report = policy.evaluate(candidate, identifier="adejoux", locale="fr")
        marks = " ".join(f"{MARK[r.status]}{r.code}" for r in report)
        verdict = "accepté" if report.ok else "refusé"
        print(f"  {candidate!r:32} {verdict:8} {marks}")
    if "answer_policy" not in path.read_text(encoding="utf-8"):
        return  # this portal asks no security question
    answers = load_answer_policy(path)
    for answer in ("bleu", "1234", "Adejoux"):
        report = answers.evaluate(answer, question="Ma couleur préférée ?", identifier="adejoux")
        failures = ", ".join(r.code for r in report.failures) or "—"
        print(f"  réponse {answer!r:10} {'acceptée' if report.ok else 'refusée':9} {failures}")


def main() -> None:
    print("credflow: the password rules of the five portals, evaluated for identifier 'adejoux'")
    for path in sorted(PORTALS.glob("*.toml")):
        show(path.stem, path)
    print("\nEnglish checklist for 'Bleu2024' under Sigma's rules:")
    report = load_policy(PORTALS / "sigma.toml").evaluate("Bleu2024", locale="en")
    for result in report:
        print(f"  {MARK[result.status]} {result.message}")


if __name__ == "__main__":
    main()
