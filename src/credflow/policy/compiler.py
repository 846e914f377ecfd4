"""Compile a policy's rules into one specialised function.

Why: a live checklist re-evaluates on every keystroke, and a Python call per rule costs more
than the checks themselves. Built-in rules describe their check as a small expression
(``Rule.inline``); the compiler joins them into a single function that returns the ready-made
results. Rule parameters reach the function through its namespace as values, never as source
text, so no configuration string is ever compiled. Rules without an expression (custom rules,
``history``, ``not_breached``) are called as usual. ``tests/test_policy_compiler.py`` proves the
compiled function agrees with ``Rule.check`` on arbitrary input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from credflow.policy.report import RuleResult
from credflow.policy.rules import PolicyContext, Rule

__all__ = ["Compiled", "compile_rules"]

Compiled = Callable[[str, PolicyContext], tuple[RuleResult, ...]]


@dataclass(frozen=True, slots=True)
class Outcomes:
    """The three ready-made results of one rule."""

    passed: RuleResult
    failed: RuleResult
    skipped: RuleResult


def _pick(
    verdict: bool | None, passed: RuleResult, failed: RuleResult, skipped: RuleResult
) -> RuleResult:
    if verdict:
        return passed
    return skipped if verdict is None else failed


def compile_rules(rules: Sequence[Rule], outcomes: Sequence[Outcomes]) -> Compiled:
    """One function ``(candidate, context) -> results`` for ``rules``, in order.

    The candidate must already be NFKC-normalised and within the length cap.
    """
    namespace: dict[str, object] = {
        "_pick": _pick,
        "__builtins__": {"len": len, "any": any, "map": map, "sum": sum},
    }
    terms = []
    for i, (rule, outcome) in enumerate(zip(rules, outcomes, strict=True)):
        namespace[f"P{i}"] = outcome.passed
        namespace[f"F{i}"] = outcome.failed
        namespace[f"S{i}"] = outcome.skipped
        inline = rule.inline()
        if inline is None:
            namespace[f"K{i}"] = rule.compile()
            terms.append(f"_pick(K{i}(c, ctx), P{i}, F{i}, S{i})")
            continue
        names = []
        for j, value in enumerate(inline.constants):
            namespace[f"C{i}_{j}"] = value
            names.append(f"C{i}_{j}")
        terms.append(f"P{i} if ({inline.expression.format(*names)}) else F{i}")
    body = "".join(f"        {term},\n" for term in terms)
    source = (
        "def evaluate(c, ctx):\n"
        "    k = c.casefold()\n"
        "    a = c.isascii()\n"
        f"    return (\n{body}    )\n"
    )
    code = compile(source, "<credflow policy>", "exec")
    exec(code, namespace)  # noqa: S102 - source is built from credflow's own templates only
    evaluate = namespace["evaluate"]
    assert callable(evaluate)
    return evaluate
