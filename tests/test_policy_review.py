"""Regression tests for review findings on the policy engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.factories import make_cf

from credflow.errors import ConfigurationError
from credflow.policy import NotCommon, PasswordPolicy, http_range_source, load_policy, presets


def test_compiled_tables_are_shared_between_spellings_and_bounded() -> None:
    policy = presets.classic()
    first = policy.evaluate("Bleu2024x", locale="fr")
    for n in range(200):
        assert policy.evaluate("Bleu2024x", locale=f"fr-x{n}") == first
    assert len(policy._cache) <= 33  # one table per resolved locale, few spellings remembered
    assert len({id(t) for t in policy._cache.values()}) == 1


def test_list_path_never_reaches_a_report(tmp_path: Path) -> None:
    listing = tmp_path / "secret-server-path.txt"
    listing.write_text("hunter2\n", encoding="utf-8")
    report = PasswordPolicy([NotCommon(path=str(listing))]).evaluate("hunter2")
    assert "secret-server-path" not in str(report.to_dict())
    assert report["not_common"].params == {"strip_affixes": False}


@pytest.mark.parametrize(
    "template",
    ["https://example.org/range", "https://example.org/{prefix}/{prefix}", "https://x/{other}"],
)
def test_range_url_must_hold_prefix_once(template: str) -> None:
    with pytest.raises(ValueError, match=r"prefix|placeholder"):
        http_range_source(template)


def test_portal_file_without_policy_table(tmp_path: Path) -> None:
    path = tmp_path / "portal.toml"
    path.write_text('[portal]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"no \[password_policy\] table") as caught:
        load_policy(path)
    assert caught.value.field == "password_policy"


def test_messages_have_no_pydantic_prefix() -> None:
    with pytest.raises(ConfigurationError) as caught:
        PasswordPolicy.from_dict({"rules": [{"rule": "not_breached"}]})
    assert "Value error" not in str(caught.value)
    assert "give exactly one of checker, range_dir or range_url" in str(caught.value)


def test_first_login_refuses_the_password_as_answer() -> None:
    cf = make_cf(reauthenticate_after_password_change=False)
    created = cf.accounts.create("adejoux")
    flow = cf.login("adejoux", created.temporary_password or "").flow or ""
    assert cf.first_login.change_password(flow, "Bleu2024x", "Bleu2024x").ok
    step = cf.first_login.enroll_question(flow, "Un mot ?", "Bleu2024x")  # exact: via its hash
    assert [r.code for r in step.failures] == ["answer_not_password"]
    assert cf.first_login.enroll_question(flow, "Un mot ?", "lapin bleu").ok
