"""`qcrules agreement`: the 授权协议 of a grant from the built-in template or the user's own,
and the `prepare_agreement` action that files it in the workspace."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest

TODAY = date(2026, 11, 27)


@pytest.fixture
def ws(demo_copy):
    return demo_copy


def grant_with_code(ws) -> dict:
    with sqlite3.connect(ws / "qcrules.db") as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute(
            "select g.*, c.nickname, c.cooperation_code, m.name as merchant_name from grants g"
            " join creators c on c.aweme_id = g.aweme_id"
            " join merchants m on m.merchant_id = g.merchant_id"
            " where c.cooperation_code is not null and length(c.cooperation_code) > 4"
            " and g.ends_at < '2099-01-01' limit 1"
        ).fetchone()
    return dict(row)


def test_the_builtin_agreement_names_both_parties_the_scope_and_period(cli, ws):
    grant = grant_with_code(ws)
    result = cli("agreement", grant["grant_id"], cwd=ws)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "千川全域推广达人授权协议" in text
    for value in (grant["merchant_name"], grant["nickname"], grant["grant_id"]):
        assert value in text
    assert f"{grant['starts_at']} 至 {grant['ends_at']}" in text
    assert "合作达人授权" in text or "授权类型" in text
    # the cooperation code is a credential: only its last 4 characters appear
    assert grant["cooperation_code"] not in text
    assert grant["cooperation_code"][-4:] in text
    assert "${" not in text


def test_a_template_of_your_own_and_an_output_file(cli, ws, tmp_path):
    grant = grant_with_code(ws)
    template = tmp_path / "mine.md"
    template.write_text("甲方 ${merchant_name} / 乙方 ${creator_nickname} / $$100\n", "utf-8")
    out = tmp_path / "out.md"
    result = cli(
        "agreement", grant["grant_id"], "--template", str(template), "-o", str(out), cwd=ws
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text("utf-8") == (
        f"甲方 {grant['merchant_name']} / 乙方 {grant['nickname']} / $100\n"
    )


def test_a_bad_template_names_the_file_line_and_placeholder_and_writes_nothing(cli, ws, tmp_path):
    grant = grant_with_code(ws)
    template = tmp_path / "bad.md"
    template.write_text("ok ${merchant_name}\n\nhello ${creator_nick}\ncost $5\n", "utf-8")
    out = tmp_path / "out.md"
    result = cli(
        "agreement", grant["grant_id"], "--template", str(template), "-o", str(out), cwd=ws
    )
    assert result.returncode == 2
    assert f"{template}:3: unknown placeholder ${{creator_nick}}" in result.stderr
    assert "did you mean ${creator_nickname}" in result.stderr
    assert f"{template}:4: a lone $" in result.stderr
    assert not out.exists()


def test_an_unknown_grant_gets_a_did_you_mean(cli, ws):
    grant = grant_with_code(ws)
    result = cli("agreement", grant["grant_id"][:-1], cwd=ws)
    assert result.returncode == 2
    assert "there is no grant" in result.stderr and "did you mean" in result.stderr


def test_placeholders_are_listed(cli, ws):
    result = cli("agreement", "X", "--placeholders", cwd=ws)
    assert result.returncode == 0 and "${creator_nickname}" in result.stdout


def test_prepare_agreement_files_the_document_in_the_workspace(cli, ws):
    evaluated = cli("evaluate", "--as-of", TODAY.isoformat(), "--fail-on", "never", cwd=ws)
    assert evaluated.returncode == 0, evaluated.stderr
    items = json.loads(cli("actions", "list", "--format", "json", cwd=ws).stdout)
    prepare = next(i for i in items if i["action"]["kind"] == "prepare_agreement")
    grant = prepare["entity"]["id"]
    dry = cli("actions", "apply", prepare["id"], "--dry-run", "--format", "json", cwd=ws)
    assert dry.returncode == 0, dry.stderr
    assert not (ws / "agreements").exists()
    done = cli("actions", "apply", prepare["id"], "--format", "json", cwd=ws)
    assert done.returncode == 0, done.stderr
    document = ws / "agreements" / f"{grant}.md"
    assert json.loads(done.stdout)["result"]["document"] == str(document)
    assert grant in document.read_text("utf-8")


def test_missing_output_folders_are_made_and_a_file_in_the_way_refused(cli, ws):
    grant = grant_with_code(ws)["grant_id"]
    made = cli("agreement", grant, "-o", "out/deeper/a.md", cwd=ws)
    assert made.returncode == 0, made.stderr
    assert grant in (ws / "out" / "deeper" / "a.md").read_text("utf-8")
    (ws / "notes").write_text("a file, not a folder\n", "utf-8")
    refused = cli("agreement", grant, "-o", "notes/sub/a.md", cwd=ws)
    assert refused.returncode == 2
    assert "notes is not a folder" in refused.stderr and "hint:" in refused.stderr
    assert (ws / "notes").read_text("utf-8") == "a file, not a folder\n"
    # an unknown grant makes no folder either: the document fails before anything is written
    unknown = cli("agreement", grant + "x", "-o", "later/a.md", cwd=ws)
    assert unknown.returncode == 2 and not (ws / "later").exists()


def test_outside_the_workspace_a_missing_folder_is_still_refused(cli, ws, tmp_path):
    grant = grant_with_code(ws)["grant_id"]
    refused = cli("agreement", grant, "-o", str(tmp_path / "typo" / "a.md"), cwd=ws)
    assert refused.returncode == 2
    assert "does not exist" in refused.stderr and "inside the workspace" in refused.stderr
    assert not (tmp_path / "typo").exists()
