"""The settings file: errors name file, line and field; secrets only by reference."""

from __future__ import annotations

import pytest

from accessward.example import EXAMPLE
from accessward.settings import SettingsError, load_settings


def write(tmp_path, text):
    path = tmp_path / "accessward.toml"
    path.write_text(text)
    return path


GOOD = """
[[identity_sources]]
name = "ldap"
type = "ldap"
url = "ldap://127.0.0.1:389"
bind_dn = "cn=admin,dc=example,dc=com"
bind_password = { env = "LDAP_PW" }
base_dn = "dc=example,dc=com"

[[access_sources]]
name = "meta"
type = "meta"
business_id = "42"
access_token = { file = "token.txt" }
"""


def test_example_written_by_init_is_valid_and_flag_only(tmp_path):
    settings = load_settings(write(tmp_path, EXAMPLE))
    assert settings.policy.rule("orphaned").action == "flag"
    assert [s.name for s in settings.identity_sources] == ["corp-ldap"]


def test_rules_default_to_flag(tmp_path):
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.policy.rule("orphaned").action == "flag"


def test_error_names_file_line_and_field(tmp_path):
    text = GOOD.replace('business_id = "42"\n', "").replace('page_size', 'x') + "\n[policy]\nmax_revocations = -1\n"
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    problems = err.value.problems
    assert f"{path}:10: access_sources[0].business_id: Field required" in problems
    assert any(p.startswith(f"{path}:16: policy.max_revocations:") for p in problems), problems


def test_wrong_field_in_second_source_points_at_its_line(tmp_path):
    text = GOOD + '\n[[access_sources]]\nname = "meta2"\ntype = "meta"\nbusiness_id = 7\naccess_token = { env = "T" }\n'
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert err.value.problems == [f"{path}:19: access_sources[1].business_id: Input should be a valid string"]


def test_inline_secret_is_refused(tmp_path):
    path = write(tmp_path, GOOD.replace('{ env = "LDAP_PW" }', '"hunter2"'))
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    (problem,) = err.value.problems
    assert problem.startswith(f"{path}:7: identity_sources[0].bind_password:") and "by reference" in problem
    assert "hunter2" not in problem


def test_unknown_field_and_unknown_rule(tmp_path):
    path = write(tmp_path, GOOD + '\n[policy.rules.orphand]\naction = "revoke"\n')
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert "unknown rule(s) orphand" in err.value.problems[0]


def test_toml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, GOOD + "\nthis is not toml\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert err.value.problems[0].startswith(f"{path}:16: not valid TOML")


def test_secret_resolution(tmp_path, monkeypatch):
    settings = load_settings(write(tmp_path, GOOD))
    monkeypatch.setenv("LDAP_PW", "s3cret")
    assert settings.identity_sources[0].bind_password.resolve() == "s3cret"
    monkeypatch.delenv("LDAP_PW")
    with pytest.raises(SettingsError, match="LDAP_PW is not set"):
        settings.identity_sources[0].bind_password.resolve()


def test_roster_sources_and_agencies(tmp_path):
    text = GOOD + """
[[identity_sources]]
name = "bright-roster"
type = "roster_csv"
path = "rosters/bright.csv"

[[policy.agencies]]
name = "Brightside"
partner_accounts = ["meta:987"]
max_level = "full_publishing"
end = 2026-12-31
roster_source = "bright-roster"
"""
    settings = load_settings(write(tmp_path, text))
    assert [s.type for s in settings.identity_sources] == ["ldap", "roster_csv"]
    assert settings.policy.agencies[0].end.isoformat() == "2026-12-31"
    bad = write(tmp_path, text.replace('max_level = "full_publishing"', 'max_level = "owner"'))
    with pytest.raises(SettingsError) as err:
        load_settings(bad)
    assert err.value.problems[0].startswith(f"{bad}:24: policy.agencies[0].max_level:")
