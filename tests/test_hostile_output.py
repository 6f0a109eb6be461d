"""Hostile input that tries to escape where it is shown or stored: ids that name files outside
their folder, control sequences in a nickname, credentials in messages (issue: integrity
under hostile input). The CLI runs in a subprocess, as a user runs it."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from conftest import settle_app, settle_whatif
from qcrules.errors import UsageError
from qcrules.safety import (
    check_id,
    file_in,
    for_terminal,
    is_secret_name,
    mask_credentials,
    mask_secret,
    safe_data,
    secret_values,
)

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b6n\u202e"  # retitle, bell, clear, red, C1 CSI, bidi


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def no_controls(text: str) -> bool:
    return not any(ch in text for ch in "\x1b\x07\x9b\u202e")


# --- the helpers -------------------------------------------------------------------------------


def test_for_terminal_makes_every_control_visible():
    shown = for_terminal("小王" + ESCAPES + "\nnext\tcol")
    assert no_controls(shown)
    assert "\\x1b]0;pwned\\x07" in shown and "\\x9b" in shown and "\\u202e" in shown
    assert shown.startswith("小王") and "\nnext\tcol" in shown  # newlines and tabs kept
    assert for_terminal("a\nb\tc", one_line=True) == "a\\x0ab\\x09c"
    assert for_terminal(None) == "" and for_terminal("plain 文本") == "plain 文本"
    assert safe_data({"a": [ESCAPES, 1, None], ESCAPES: (ESCAPES,)}) == {
        "a": [for_terminal(ESCAPES, one_line=True), 1, None],
        for_terminal(ESCAPES, one_line=True): (for_terminal(ESCAPES, one_line=True),),
    }
    for _ in range(2):  # keys seen before (a fact's field names) are escaped the same way
        assert safe_data({ESCAPES: True, "": 0.5, "n": {"\x1b": "x"}}) == {
            for_terminal(ESCAPES, one_line=True): True,
            "": 0.5,
            "n": {"\\x1b": "x"},
        }


@pytest.mark.parametrize(
    "bad",
    [
        "../evil",
        "a/b",
        "a\\b",
        "..",
        ".",
        "x..y",
        " G1",
        "G1 ",
        "G\x1b[2J",
        "G\x00",
        "G\x85",
        "G\u202e",
    ],
)
def test_check_id_refuses(bad):
    assert check_id(bad) is not None


@pytest.mark.parametrize("good", ["G-0042", "71233112", "M1", "合作达人_1", "a.b", "G 1"])
def test_check_id_accepts(good):
    assert check_id(good) is None


def test_file_in_stays_inside_its_folder(tmp_path):
    folder = tmp_path / "agreements"
    folder.mkdir()
    assert file_in(folder, "G-1", ".md") == folder / "G-1.md"
    for stem in ("../evil", "..", "a/../../b", "", "x\x1b"):
        with pytest.raises(UsageError, match="would leave"):
            file_in(folder, stem, ".md")
    # a symlink planted inside the folder does not lead the write elsewhere
    (folder / "G-2.md").symlink_to(tmp_path / "outside.md")
    with pytest.raises(UsageError):
        file_in(folder, "G-2", ".md")


def test_bidi_marks_are_shown_escaped_as_the_overrides_are():
    """U+200E/U+200F (LRM/RLM) and U+061C (ALM) reorder a line as the overrides do; a
    nickname carrying them reached the terminal raw."""
    shown = for_terminal("小\u200f明\u200e店\u061c")
    assert "\u200f" not in shown and "\\u200f" in shown and "\\u200e" in shown
    assert "\\u061c" in shown
    assert check_id("G-1\u200f") is not None  # and no id may carry one


def test_credential_names_are_told_from_ordinary_ones():
    for name in ("webhook_url", "access_token", "app_secret", "API-Key", "password", "合作码"):
        assert is_secret_name(name), name
    for name in ("key", "sign_date", "signed", "grant_id", "designer", "monkey", "tokens_used"):
        assert not is_secret_name(name), name
    assert is_secret_name("sign", query=True) and not is_secret_name("sign")


def test_mask_credentials_keeps_everything_else_as_it_is():
    settings = {"chat": {"webhook_url": "https://x.example/hook/SECRET-123456", "retries": 3}}
    known = secret_values(settings)
    assert known == {"https://x.example/hook/SECRET-123456"}
    data = {
        "ok": True,
        "count": 3,
        "key": {"grant_id": "G-1"},
        "nested": [{"token": 12345678}, "via https://x.example/hook/SECRET-123456 done"],
        "url": "https://api.example/send?sign=abcdefgh&timestamp=1700000000",
    }
    assert mask_credentials(data, known) == {
        "ok": True,
        "count": 3,
        "key": {"grant_id": "G-1"},
        "nested": [{"token": "****5678"}, "via ****3456 done"],
        "url": "https://api.example/send?sign=****efgh&timestamp=1700000000",
    }


def test_mask_secret_is_the_last_four_only():
    assert mask_secret("SECRETCODE99") == "****DE99"
    assert mask_secret("1234") == "****" and mask_secret(" ") == ""


# --- ids at import -----------------------------------------------------------------------------


@pytest.fixture
def ws(tmp_path) -> Path:
    from qcrules.ingest import run_import
    from qcrules.service import init_workspace

    folder = tmp_path / "ws"
    workspace = init_workspace(folder)
    merchants = write_csv(
        folder / "merchants.csv", ["商家ID", "商家名称", "保本ROI"], [["M1", "男装旗舰店", "1.8"]]
    )
    creators = write_csv(folder / "creators.csv", ["达人UID", "达人昵称"], [["71233112", "小王"]])
    assert run_import(workspace.db, "merchants", [merchants]).ok
    assert run_import(workspace.db, "creators", [creators]).ok
    workspace.close()
    return folder


def count(ws: Path, table: str) -> int:
    with sqlite3.connect(ws / "qcrules.db") as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


def test_import_refuses_ids_that_could_name_files_elsewhere(cli, ws):
    header = ["授权ID", "商家ID", "达人UID", "授权类型", "授权范围", "授权状态"]
    good = ["G-1", "M1", "71233112", "cooperative", "all_works", "active"]
    rows = [
        good,
        ["../../evil", *good[1:]],
        ["G\x1b[2J", *good[1:]],
        ["G-3", "M/1", *good[2:]],
        ["G-4", "M1", "..", *good[3:]],
    ]
    path = write_csv(ws / "grants.csv", header, rows)
    done = cli("import", "grants", str(path), cwd=ws)
    assert done.returncode == 2, done.stderr
    err = done.stderr
    assert f"{path}:3: 授权ID = '../../evil': an id cannot contain a path separator" in err
    assert f"{path}:4: 授权ID = 'G\\x1b[2J': an id cannot contain a control character" in err
    assert f"{path}:5: 商家ID = 'M/1'" in err
    assert f"{path}:6: 达人UID = '..': an id cannot contain .." in err
    assert no_controls(err + done.stdout)
    assert count(ws, "grants") == 0  # nothing written, not even the good row
    assert not (ws.parent / "evil.md").exists()


def test_a_bad_id_already_in_a_database_writes_no_file_outside(cli, demo_copy):
    """An id that reached the database by another way (an older release, a plugin) still
    cannot lead the agreement document out of agreements/."""
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        grant = conn.execute("select grant_id from grants limit 1").fetchone()[0]
        conn.execute("pragma foreign_keys = off")
        for tbl in ("grants", "metrics"):
            conn.execute(f"update {tbl} set grant_id = '../../evil' where grant_id = ?", (grant,))
    done = cli("agreement", "../../evil", "-o", str(demo_copy / "a.md"), cwd=demo_copy)
    assert done.returncode == 0, done.stderr  # rendering to a chosen file is fine
    from qcrules.actions.agreement import write_agreement
    from qcrules.workspace import Workspace

    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    try:
        with pytest.raises(UsageError, match="would leave"):
            write_agreement(workspace, "../../evil")
    finally:
        workspace.close()
    assert not (demo_copy.parent / "evil.md").exists()
    assert not list(demo_copy.rglob("evil.md"))


def test_cooperation_code_masked_last_four_in_import_messages(cli, ws):
    path = write_csv(
        ws / "c.csv",
        ["达人UID", "达人昵称", "合作码"],
        [["1", "", "SECRETCODE99"], ["2", "b", "C0DE"]],
    )
    done = cli("import", "creators", str(path), cwd=ws)
    assert done.returncode == 2
    assert "SECRETCODE99" not in done.stderr + done.stdout
    done = cli("import", "creators", str(path), "--skip-invalid", "--format", "json", cwd=ws)
    rejects = Path(json.loads(done.stdout)["files"][0]["rejects_path"]).read_text("utf-8-sig")
    assert "SECRETCODE99" not in rejects and "****DE99" in rejects
    assert "SE****" not in rejects  # no leading characters: last 4 only


def test_agreement_shows_the_cooperation_code_masked(cli, demo_copy):
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        grant, aweme = conn.execute("select grant_id, aweme_id from grants limit 1").fetchone()
        conn.execute(
            "update creators set cooperation_code = 'QC-SECRET-7788' where aweme_id = ?", (aweme,)
        )
    done = cli("agreement", grant, cwd=demo_copy)
    assert done.returncode == 0, done.stderr
    assert "QC-SECRET" not in done.stdout and "****7788" in done.stdout


# --- control sequences never reach the terminal ------------------------------------------------

TEAM_PACK = """[pack]
id = "team"
version = "1.0.0"
entity = "grant"

[params]
hidden_status = "none"

[[rules]]
id = "TEM001"
name = "nickname-shown"
level = "warn"
when = "status == \\"active\\" and status != params.hidden_status"
action = { kind = "review_grant" }
message = "grant of {creator.nickname}"
source = "team"
"""


@pytest.fixture
def hostile(demo_copy) -> Path:
    """The demo with one creator whose nickname is a string of terminal escapes, and a team
    pack whose message shows nicknames."""
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        aweme = conn.execute("select aweme_id from grants where status = 'active' limit 1")
        aweme = aweme.fetchone()[0]
        conn.execute(
            "update creators set nickname = ? where aweme_id = ?", ("坏" + ESCAPES + "人", aweme)
        )
    (demo_copy / "team-packs").mkdir()
    (demo_copy / "team-packs" / "team.toml").write_text(TEAM_PACK, encoding="utf-8")
    config = demo_copy / "qcrules.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("paths = []", 'paths = ["team-packs"]'), encoding="utf-8")
    return demo_copy


@pytest.mark.parametrize("fmt", ["table", "markdown", "github", "json", "jsonl", "sarif", "junit"])
def test_no_control_sequence_from_data_in_any_output(cli, hostile, fmt):
    done = cli("evaluate", "--as-of", "2026-11-27", "--no-store", "--format", fmt, cwd=hostile)
    assert done.returncode in (0, 1), done.stderr
    assert "坏" in done.stdout  # the nickname is shown …
    assert no_controls(done.stdout + done.stderr)  # … but none of its escapes act
    if fmt in ("table", "markdown", "github"):
        assert "\\x1b]0;pwned\\x07" in done.stdout  # made visible, not dropped silently
    if fmt == "json":
        report = json.loads(done.stdout)  # still valid JSON with the same value
        names = {f["entity"].get("name") for f in report["findings"]}
        assert "坏" + ESCAPES + "人" in names
    if fmt == "junit":
        from xml.etree import ElementTree as ET

        ET.fromstring(done.stdout.split("\n", 1)[1])  # well-formed XML


def test_table_output_on_a_colour_terminal_keeps_only_its_own_styles(cli, hostile):
    done = cli(
        "evaluate",
        "--as-of",
        "2026-11-27",
        "--no-store",
        cwd=hostile,
        env={"NO_COLOR": "", "FORCE_COLOR": "1", "TERM": "xterm-256color"},
    )
    assert "\x1b[" in done.stdout  # rich colours the levels …
    assert "\x1b]0;" not in done.stdout and "\x07" not in done.stdout  # … data retitles nothing
    assert "\x1b[2J" not in done.stdout and "\x9b" not in done.stdout


def test_error_messages_show_data_without_control_sequences(cli, demo_copy):
    done = cli("agreement", "G" + ESCAPES, cwd=demo_copy)
    assert done.returncode == 2
    assert "unknown grant" in done.stderr.lower() or "no grant" in done.stderr.lower()
    assert no_controls(done.stderr)


async def test_tui_shows_data_without_control_sequences(hostile, monkeypatch):
    from datetime import date

    from textual.widgets import DataTable

    from qcrules.i18n import language
    from qcrules.tui import QcrulesApp
    from qcrules.workspace import Workspace

    monkeypatch.setenv("QCRULES_LANG", "en")
    language.cache_clear()
    workspace = Workspace.discover(hostile / "qcrules.toml")
    try:
        app = QcrulesApp(workspace, as_of=date(2026, 11, 27), store=False)
        async with app.run_test(size=(160, 45)) as pilot:
            await settle_app(app, pilot)
            shown = []
            for table in app.query(DataTable):
                for i in range(table.row_count):
                    shown += [str(cell) for cell in table.get_row_at(i)]
            text = "\n".join(shown)
            assert "坏" in text
            assert no_controls(text)
            assert no_controls(json.dumps(app.report.to_json(), ensure_ascii=False))
            screen = app.export_screenshot()
            assert "\x1b]0;" not in screen and "\x07" not in screen

            # the what-if pane lists the removed findings with the nickname in their entity
            from textual.widgets import Input, Select, Static

            await pilot.press("p")
            await pilot.pause()
            app.query_one("#whatif-param", Select).value = "team.hidden_status"
            app.query_one("#whatif-value", Input).value = "active"
            await settle_whatif(app, pilot)
            pane = str(app.query_one("#whatif-result", Static).render())
            assert "坏" in pane and no_controls(pane)
            # a toast carrying data (here the nickname in an error) shows it inert
            app.notify("no grant for 坏" + ESCAPES + "人 [bold]x[/]")
            await pilot.pause()
            toast = app._notifications
            assert all(no_controls(n.message) for n in toast)
            assert any("[bold]x[/]" in n.message for n in toast)  # not read as markup
    finally:
        workspace.close()
        language.cache_clear()


def test_bad_ids_change_nothing_on_either_database(db, tmp_path):
    from qcrules.ingest import run_import

    merchants = write_csv(
        tmp_path / "m.csv", ["merchant_id", "name", "break_even_roi"], [["M1", "a", "1.8"]]
    )
    assert run_import(db, "merchants", [merchants]).ok
    creators = write_csv(
        tmp_path / "c.csv",
        ["aweme_id", "nickname"],
        [["71233112", "ok"], ["../etc", "x"], ["7\x1b[0m", "y"]],
    )
    result = run_import(db, "creators", [creators])
    assert not result.ok
    lines = {(p.line, p.column) for p in result.files[0].problems}
    assert lines == {(3, "aweme_id"), (4, "aweme_id")}
    with db.connect() as conn:
        from sqlalchemy import text

        assert conn.execute(text("select count(*) from creators")).scalar() == 0


# --- reports: values, never formulas -----------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.fixture
def formula_names(cli, demo_copy) -> tuple[Path, dict[str, str]]:
    """The demo with creators named like formulas (and one with control characters), each
    on a grant of the report."""
    import io

    done = cli("report", "--as-of", "2026-11-27", "--days", "3", cwd=demo_copy)
    grants = sorted({r["grant"] for r in csv.DictReader(io.StringIO(done.stdout))})
    names = [*FORMULAS, "a\x00b\x1bc\x9bd"]
    chosen: dict[str, str] = {}
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        creators: dict[str, str] = {}  # one grant per creator: each name on its own creator
        for grant in grants:
            (aweme,) = conn.execute("select aweme_id from grants where grant_id = ?", (grant,))
            creators.setdefault(aweme[0], grant)
        for (aweme, grant), name in zip(creators.items(), names, strict=False):
            conn.execute("update creators set nickname = ? where aweme_id = ?", (name, aweme))
            chosen[grant] = name
    assert len(chosen) == len(names)  # every name, the control characters' too, is shown
    return demo_copy, chosen


def test_csv_report_cells_are_never_formulas(cli, formula_names):
    ws, names = formula_names
    out = ws / "sheet.csv"
    done = cli("report", "--as-of", "2026-11-27", "--days", "3", "-o", str(out), cwd=ws)
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    nick = rows[0].index("nickname")
    shown = {row[nick] for row in rows[1:]}
    for name in names.values():
        if name in FORMULAS:  # (a CR, which would end the CSV row, is written as a newline)
            assert "'" + name.replace("\r", "\n") in shown, name
    for row in rows[1:]:
        for cell in row:  # OWASP: nothing a spreadsheet would run
            if cell.startswith("\t"):  # only a digit-only id, kept as text for Excel
                assert cell[1:].isdigit(), cell
                continue
            assert not cell.startswith(("=", "+", "@", "\r")), cell
            if cell.startswith("-"):
                float(cell.rstrip("%"))  # only a plain negative number may start with -
        assert not any(ch in "".join(row) for ch in "\x00\x1b\x9b")
    assert "a\ufffdb\ufffdc\ufffdd" in shown


def test_xlsx_report_cells_are_values_and_control_characters_replaced(cli, formula_names):
    from openpyxl import load_workbook

    ws, names = formula_names
    out = ws / "sheet.xlsx"
    done = cli(
        "report", "--as-of", "2026-11-27", "--days", "3", "-o", str(out), "--format", "xlsx", cwd=ws
    )
    assert done.returncode == 0, done.stderr
    book = load_workbook(out)
    sheet = book.active
    types = {cell.data_type for row in sheet.iter_rows() for cell in row}
    assert "f" not in types  # no formula anywhere
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    for name in names.values():
        if name in FORMULAS:
            assert "'" + name.replace("\r", "\n") in values, name
    assert "a\ufffdb\ufffdc\ufffdd" in values


def test_agreement_and_explain_show_the_nickname_without_its_escapes(cli, hostile):
    with sqlite3.connect(hostile / "qcrules.db") as conn:
        (grant,) = conn.execute(
            "select g.grant_id from grants g join creators c on c.aweme_id = g.aweme_id"
            " where c.nickname like '坏%' and g.status = 'active' limit 1"
        ).fetchone()
    agreement = cli("agreement", grant, cwd=hostile)
    assert agreement.returncode == 0, agreement.stderr
    assert "坏" in agreement.stdout and no_controls(agreement.stdout)
    written = hostile / "a.md"
    assert cli("agreement", grant, "-o", str(written), cwd=hostile).returncode == 0
    assert no_controls(written.read_text(encoding="utf-8"))
    for fmt in ("text", "json"):
        explained = cli(
            "explain", "TEM001", grant, "--as-of", "2026-11-27", "--format", fmt, cwd=hostile
        )
        assert explained.returncode == 0, explained.stderr
        assert no_controls(explained.stdout + explained.stderr)


def test_headers_that_look_like_markup_or_escapes_are_shown_as_written(cli, ws):
    path = ws / "hdr.csv"
    path.write_text("达人UID,达人昵称,[/bold],[red]x\x1b[2J\n1001,a,b,c\n", encoding="utf-8")
    done = cli("import", "creators", str(path), "--dry-run", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "[/bold], [red]x\\x1b[2J" in done.stderr
    assert "Traceback" not in done.stderr and no_controls(done.stderr)


def test_rejects_file_holds_values_not_formulas_and_reimports_as_written(db, tmp_path):
    """The rejects CSV is opened in Excel like a report: its cells are neutralised, and a
    fixed rejects file imports the text as it was (the apostrophe is not part of it)."""
    from sqlalchemy import text

    from qcrules.ingest import run_import

    path = write_csv(
        tmp_path / "c.csv",
        ["aweme_id", "nickname", "fans_count"],
        [["1", '=HYPERLINK("x")', "-5"], ["2", "@SUM(A1)", "10"]],
    )
    rejects = tmp_path / "r.csv"
    result = run_import(db, "creators", [path], skip_invalid=True, rejects=rejects)
    assert result.files[0].rejected == 1
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    # a plain number stays a number; a digit-only id gets a tab before it, for Excel
    assert rows[1][:3] == ["\t1", '\'=HYPERLINK("x")', "-5"]
    fixed = tmp_path / "fixed.csv"
    write_csv(fixed, rows[0][:3], [[rows[1][0], rows[1][1], "5"]])
    assert run_import(db, "creators", [fixed]).ok
    with db.connect() as conn:
        names = dict(conn.execute(text("select aweme_id, nickname from creators")).all())
    assert names == {"1": '=HYPERLINK("x")', "2": "@SUM(A1)"}


@pytest.mark.parametrize(
    "args",
    [
        ("grants", "list", "--format", "json"),
        ("actions", "list", "--all", "--format", "json"),
        (
            "whatif",
            "--set",
            "team.hidden_status=active",
            "--as-of",
            "2026-11-27",
            "--format",
            "json",
        ),
    ],
    ids=["grants", "actions", "whatif"],
)
def test_json_of_every_command_carries_the_nickname_as_escapes(cli, hostile, args):
    """Every command's JSON holds the nickname's value exactly, with its C1 and bidi
    characters written as `\\uXXXX`, so `qcrules … --format json` in a terminal is inert."""
    assert cli("evaluate", "--as-of", "2026-11-27", cwd=hostile).returncode in (0, 1)
    done = cli(*args, cwd=hostile)
    assert done.returncode in (0, 1), done.stderr
    assert no_controls(done.stdout + done.stderr)
    assert "坏" in done.stdout and "\\u009b" in done.stdout and "\\u202e" in done.stdout
    shown = strings_in(json.loads(done.stdout))
    assert any("坏" + ESCAPES + "人" in text for text in shown)  # the value, unchanged


def strings_in(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(strings_in(v) for v in value.values()), set())
    if isinstance(value, list):
        return set().union(*(strings_in(v) for v in value), set())
    return {value} if isinstance(value, str) else set()
