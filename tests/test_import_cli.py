"""`qcrules import` as a user or a CI job runs it: the real CLI in a subprocess."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from qcrules.ingest import run_import
from qcrules.service import init_workspace

METRICS_HEADER = [
    "日期",
    "商家ID",
    "达人UID",
    "整体消耗(元)",
    "整体展示次数",
    "整体点击次数",
    "整体点击率",
]


def write_csv(path: Path, header, rows, encoding="utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def count(ws: Path, table: str) -> int:
    with sqlite3.connect(ws / "qcrules.db") as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


@pytest.fixture
def ws(tmp_path) -> Path:
    """A workspace with two merchants and two creators (seeded through the API, for speed)."""
    folder = tmp_path / "ws"
    workspace = init_workspace(folder)
    merchants = write_csv(
        folder / "merchants.csv",
        ["商家ID", "商家名称", "保本ROI"],
        [["M1", "男装旗舰店", "1.8"], ["M2", "美妆店", "2.5"]],
    )
    creators = write_csv(
        folder / "creators.csv",
        ["达人UID", "达人昵称"],
        [["71233112", "小王"], ["71233113", "老李"]],
    )
    assert run_import(workspace.db, "merchants", [merchants]).ok
    assert run_import(workspace.db, "creators", [creators]).ok
    workspace.close()
    return folder


def test_creators_with_merchant_and_encodings(cli, ws):
    gb = write_csv(
        ws / "gb.csv",
        ["达人UID", "达人昵称", "合作码"],
        [["1", "小红", "abcd1234"]],
        encoding="gb18030",
    )
    bom = write_csv(ws / "bom.csv", ["达人UID", "达人昵称"], [["2", "小蓝"]], encoding="utf-8-sig")
    done = cli("import", "creators", str(gb), str(bom), "--merchant", "M1", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert f"{gb}: 1 row — 1 inserted, 0 updated" in done.stdout
    assert "pool M1: 1 added as candidate, 0 already there (status kept)" in done.stdout
    assert count(ws, "pool") == 2
    with sqlite3.connect(ws / "qcrules.db") as conn:
        assert conn.execute("select nickname from creators where aweme_id='1'").fetchone() == (
            "小红",
        )


def test_import_reports_counts(cli, ws):
    path = write_csv(
        ws / "m.csv",
        METRICS_HEADER,
        [["2026-11-01", "M1", "71233112", "¥10", "100", "5", "5%"]],
    )
    done = cli("import", "metrics", str(path), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "1 row — 1 inserted, 0 updated" in done.stdout
    assert "ignored CTR/ROI/CVR columns" in done.stderr and "整体点击率" in done.stderr
    done = cli("import", "metrics", str(path), cwd=ws)
    assert "0 inserted, 1 updated" in done.stdout
    assert count(ws, "metrics") == 1


def test_bad_file_exit_2_lists_every_bad_row(cli, ws):
    rows = [
        ["2026-11-01", "M1", "71233112", "10", "100", "5", ""],
        ["2026-11-02", "M1", "71233112", "ten", "100", "5", ""],
        ["2026-11-03", "M9", "71233112", "10", "100", "5", ""],
        ["someday", "M1", "71233112", "10", "100", "5", ""],
    ]
    path = write_csv(ws / "bad.csv", METRICS_HEADER, rows)
    done = cli("import", "metrics", str(path), cwd=ws)
    assert done.returncode == 2
    err = done.stderr
    assert f"error: {path}: 3 invalid rows; nothing was imported from this file" in err
    assert f"{path}:3: 整体消耗(元) = 'ten': not a number" in err
    assert f"{path}:4: 商家ID = 'M9': unknown merchant" in err
    assert f"{path}:5: 日期 = 'someday': not a date" in err
    assert "--skip-invalid" in err
    assert count(ws, "metrics") == 0
    assert done.stdout == ""


def test_in_zh_errors_hints_and_warnings_are_prefixed_in_chinese(cli, ws):
    """A zh user read `error:` / `hint:` before Chinese messages; in zh they are 错误：and
    提示：(警告：for a warning), whether the error is an import's or any other; English keeps
    error: and hint:."""
    zh = {"QCRULES_LANG": "zh"}
    rows = [["2026-11-02", "M1", "71233112", "ten", "100", "5", ""]]
    path = write_csv(ws / "bad.csv", METRICS_HEADER, rows)
    done = cli("import", "metrics", str(path), cwd=ws, env=zh)
    assert done.returncode == 2
    assert f"错误：{path}：1 行无效；整个文件未导入" in done.stderr
    assert "  提示：修正这些行后重新导入" in done.stderr
    assert "error:" not in done.stderr and "hint:" not in done.stderr
    skipped = cli("import", "metrics", str(path), "--skip-invalid", cwd=ws, env=zh)
    assert "警告：" in skipped.stderr and "warning:" not in skipped.stderr
    unknown = cli("agreement", "G-NONE", cwd=ws, env=zh)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("错误：") and "\n  提示：" in unknown.stderr
    english = cli("agreement", "G-NONE", cwd=ws)
    assert english.stderr.startswith("error: ") and "\n  hint: " in english.stderr


def test_skip_invalid_and_rejects(cli, ws):
    rows = [
        ["2026-11-01", "M1", "71233112", "10", "100", "5", ""],
        ["2026-11-02", "M1", "71233112", "ten", "100", "5", ""],
    ]
    path = write_csv(ws / "m.csv", METRICS_HEADER, rows)
    rejects = ws / "out" / "rejected.csv"
    rejects.parent.mkdir()
    done = cli("import", "metrics", str(path), "--skip-invalid", "--rejects", str(rejects), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "1 inserted" in done.stdout
    assert f"skipped 1 invalid rows, written to {rejects}" in done.stderr
    lines = list(csv.reader(rejects.read_text(encoding="utf-8-sig").splitlines()))
    assert lines[0][-2:] == ["line", "reason"] and lines[1][-2] == "3"
    assert count(ws, "metrics") == 1


def test_dry_run(cli, ws):
    path = write_csv(
        ws / "m.csv", METRICS_HEADER, [["2026-11-01", "M1", "71233112", "1", "9", "1", ""]]
    )
    done = cli("import", "metrics", str(path), "--dry-run", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "dry run, 1 row — would insert 1, update 0; nothing written" in done.stdout
    assert count(ws, "metrics") == 0


def test_json_report(cli, ws):
    path = write_csv(
        ws / "m.csv", METRICS_HEADER, [["2026-11-01", "M1", "71233112", "1", "9", "1", ""]]
    )
    done = cli("import", "metrics", str(path), "--format", "json", cwd=ws)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["kind"] == "metrics"
    (file,) = report["files"]
    assert (file["inserted"], file["updated"], file["rows"]) == (1, 0, 1)
    assert file["columns"]["spend"] == "整体消耗(元)"


def test_several_files_one_bad(cli, ws):
    good = write_csv(
        ws / "good.csv", METRICS_HEADER, [["2026-11-01", "M1", "71233112", "1", "9", "1", ""]]
    )
    bad = write_csv(
        ws / "bad.csv", METRICS_HEADER, [["2026-11-02", "M1", "71233112", "x", "9", "1", ""]]
    )
    done = cli("import", "metrics", str(bad), str(good), cwd=ws)
    assert done.returncode == 2
    assert f"{good}: 1 row — 1 inserted" in done.stdout
    assert f"error: {bad}" in done.stderr
    assert count(ws, "metrics") == 1


def test_unknown_merchant_option(cli, ws):
    path = write_csv(ws / "c.csv", ["达人UID", "达人昵称"], [["1", "a"]])
    done = cli("import", "creators", str(path), "--merchant", "M11", cwd=ws)
    assert done.returncode == 2
    assert "unknown merchant 'M11'; did you mean 'M1'?" in done.stderr
    assert count(ws, "creators") == 2


def test_unknown_kind(cli, ws):
    done = cli("import", "metric", "x.csv", cwd=ws)
    assert done.returncode == 2
    assert "unknown import kind 'metric'; did you mean 'metrics'?" in done.stderr


def test_unreadable_file(cli, ws):
    done = cli("import", "creators", str(ws / "nope.csv"), cwd=ws)
    assert done.returncode == 2
    assert "nope.csv: cannot read the file: no such file" in done.stderr
    assert "nope.csv: " + str(ws / "nope.csv") not in done.stderr  # the name said once


def test_cooperation_code_masked_in_errors(cli, ws):
    path = write_csv(ws / "c.csv", ["达人UID", "达人昵称", "合作码"], [["1", "", "SECRETCODE99"]])
    done = cli("import", "creators", str(path), cwd=ws)
    assert done.returncode == 2
    assert "SECRETCODE99" not in done.stderr + done.stdout


def test_help_columns(cli, tmp_path):
    done = cli("import", "--help-columns", "metrics", cwd=tmp_path)  # no workspace needed
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for text in (
        "spend",
        "整体消耗",
        "千川消耗",
        "impressions",
        "展现次数",
        "gmv",
        "GMV",
        "date",
        "2026/11/01",
    ):
        assert text in out, text
    done = cli("import", "--help-columns", "grants", cwd=tmp_path)
    assert (
        "cooperative" in done.stdout and "合作达人" in done.stdout and "2099-12-31" in done.stdout
    )
    done = cli("import", "--help-columns", "creator", cwd=tmp_path)
    assert done.returncode == 2 and "did you mean 'creators'" in done.stderr


def test_import_help_mentions_options(cli, tmp_path):
    done = cli("import", "--help", cwd=tmp_path)
    assert done.returncode == 0
    for option in ("--merchant", "--dry-run", "--skip-invalid", "--rejects", "--help-columns"):
        assert option in done.stdout


AGE_HEADERS = ["18-23岁粉丝比例", "24-30岁粉丝比例", "31-40岁粉丝比例", "41-50岁粉丝比例"]


def fan_ages(ws: Path) -> dict[str, dict | None]:
    with sqlite3.connect(ws / "qcrules.db") as conn:
        rows = conn.execute("select aweme_id, fan_age_dist from creators").fetchall()
    return {aweme: json.loads(dist) if dist else None for aweme, dist in rows}


def test_xingtu_fan_age_columns_become_the_fan_age_distribution(cli, tmp_path):
    """A 星图 export gives fan ages as one share column per band; they land in fan_age_dist
    as the single `18-23:0.1,…` column would, and audience matching reads them."""
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    merchants = write_csv(
        ws / "merchants.csv",
        ["商家ID", "商家名称", "保本ROI", "目标年龄段"],
        [["M1", "男装旗舰店", "1.8", "31-40,41-50"]],
    )
    assert cli("import", "merchants", str(merchants), cwd=ws).returncode == 0
    creators = write_csv(
        ws / "星图达人.csv",
        ["达人UID", "达人昵称", *AGE_HEADERS, "50岁以上粉丝比例"],
        [
            ["1001", "穿搭阿杰", "5%", "15%", "45%", "25%", "10%"],
            ["1002", "学生党小美", "50.5%", "30%", "10%", "5%", ""],  # no 50+ share: unknown
            ["1003", "新号", "", "", "", "", ""],
        ],
    )
    done = cli("import", "creators", str(creators), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "extra" not in done.stdout + done.stderr  # no band left over as an unknown column
    assert fan_ages(ws) == {
        "1001": {"18-23": 0.05, "24-30": 0.15, "31-40": 0.45, "41-50": 0.25, "50+": 0.1},
        "1002": {"18-23": 0.505, "24-30": 0.3, "31-40": 0.1, "41-50": 0.05},
        "1003": None,
    }
    # the same as the single column gives
    single = write_csv(
        ws / "single.csv",
        ["达人UID", "达人昵称", "粉丝年龄分布"],
        [["1004", "对照", "18-23:5%,24-30:15%,31-40:45%,41-50:25%,50岁以上:10%"]],
    )
    assert cli("import", "creators", str(single), cwd=ws).returncode == 0
    assert fan_ages(ws)["1004"] == fan_ages(ws)["1001"]

    report = json.loads(
        cli("evaluate", "--format", "json", "--no-store", "--fail-on", "never", cwd=ws).stdout
    )
    mismatched = {
        f["entity"]["id"]: f["evidence"]["audience_match"]
        for f in report["findings"]
        if f["rule"] == "SCR004"
    }
    assert mismatched == {"1002": pytest.approx(0.15)}  # 1001: 70% in 31-50


def test_xingtu_fan_age_columns_0_to_100_and_short_headers(cli, ws):
    path = write_csv(
        ws / "ages.csv",
        ["达人UID", "达人昵称", "18-23岁", "24-30岁", "31-40岁", "41-50岁", "50岁以上"],
        [["71233112", "小王", "10", "20", "40", "20", "10"]],
    )
    done = cli("import", "creators", str(path), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "0–100" in done.stderr + done.stdout
    assert fan_ages(ws)["71233112"] == {
        "18-23": 0.1,
        "24-30": 0.2,
        "31-40": 0.4,
        "41-50": 0.2,
        "50+": 0.1,
    }


def test_bad_xingtu_fan_age_cells_name_file_line_and_column(cli, ws):
    path = write_csv(
        ws / "ages.csv",
        ["达人UID", "达人昵称", *AGE_HEADERS, "50岁以上粉丝比例"],
        [
            ["71233112", "小王", "10%", "二成", "40%", "20%", "10%"],
            ["71233113", "老李", "60%", "30%", "40%", "20%", "10%"],
        ],
    )
    done = cli("import", "creators", str(path), cwd=ws)
    assert done.returncode == 2
    err = done.stderr
    assert f"error: {path}: 2 invalid rows; nothing was imported from this file" in err
    assert f"{path}:2: 24-30岁粉丝比例 = '二成': not a number" in err
    assert f"{path}:3: 18-23岁粉丝比例…50岁以上粉丝比例" in err
    assert "add up to more than 100%" in err
    assert fan_ages(ws) == {"71233112": None, "71233113": None}


def test_fan_age_given_twice(cli, ws):
    """Two columns for one band are refused; the distribution's own column beside band
    columns wins, and the bands are kept as data with a warning."""
    path = write_csv(
        ws / "ages.csv",
        ["达人UID", "达人昵称", "18-23岁粉丝比例", "18-23岁"],
        [["71233112", "小王", "10%", "10%"]],
    )
    done = cli("import", "creators", str(path), cwd=ws)
    assert done.returncode == 2
    assert "means the age band 18-23, like column '18-23岁粉丝比例'" in done.stderr

    path = write_csv(
        ws / "both.csv",
        ["达人UID", "达人昵称", "粉丝年龄分布", "18-23岁粉丝比例"],
        [["71233112", "小王", "18-23:0.2", "10%"]],
    )
    done = cli("import", "creators", str(path), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "column '粉丝年龄分布' gives fan_age_dist" in done.stderr
    assert fan_ages(ws)["71233112"] == {"18-23": 0.2}


def test_totals_lines_with_a_colon_or_a_count_are_skipped_and_names_are_kept(cli, ws):
    """合计：and 总计(共3条) (a full-width colon, a count in brackets) were read as data and
    refused as bad dates; they are totals lines, skipped with a note as 合计 is. A first cell
    that only starts with such a word (Total Wine, 合计划) is data."""
    path = ws / "m.csv"
    path.write_text(
        "日期,商家ID,达人UID,整体消耗(元),整体展示次数,整体点击次数\n"
        "2026-11-01,M1,71233112,10,100,5\n"
        "2026-11-02,M1,71233112,20,200,6\n"
        "合计：,,,30,300,11\n"
        "总计(共3条),,,30,300,11\n"
        "【汇总】,,,30,300,11\n"
        "Total: 2 rows,,,30,300,11\n"
        ",合计,,30,300,11\n",  # the word in the second cell, the first left empty
        encoding="utf-8",
    )
    done = cli("import", "metrics", str(path), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "2 inserted" in done.stdout and count(ws, "metrics") == 2
    skipped = (
        (4, "合计："),
        (5, "总计(共3条)"),
        (6, "【汇总】"),
        (7, "Total: 2 rows"),
        (8, "合计"),
    )
    for line, word in skipped:
        assert f"skipped the totals line {line} ({word})" in done.stderr
    creators = ws / "c.csv"
    creators.write_text(
        "达人昵称,达人UID\nTotal Wine,900001\n合计划,900002\n合计：,\n", encoding="utf-8"
    )
    done = cli("import", "creators", str(creators), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "2 inserted" in done.stdout
    with sqlite3.connect(ws / "qcrules.db") as conn:
        names = dict(conn.execute("select aweme_id, nickname from creators where aweme_id > '9'"))
    assert names == {"900001": "Total Wine", "900002": "合计划"}


def test_a_workbook_is_read_from_its_first_sheet_with_the_required_columns(cli, ws):
    """An export whose first sheet is an info sheet and whose data is on the second was read
    from the first sheet and refused ('aweme_id' missing) without naming any sheet. The
    first sheet whose header has the required columns is read, with a note; when none has,
    the error names every sheet looked at."""
    from openpyxl import Workbook

    def workbook(path, data_header):
        book = Workbook()
        info = book.active
        info.title = "说明"
        info.append(["本文件由千川导出"])
        info.append(["导出时间", "2026-12-01"])
        data = book.create_sheet("达人数据")
        data.append(data_header)
        data.append(["2269150000000000001", "新达人"])
        book.save(path)
        return path

    multi = workbook(ws / "multi.xlsx", ["达人UID", "达人昵称"])
    done = cli("import", "creators", str(multi), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "1 inserted" in done.stdout
    assert "read the sheet '达人数据', the first with the required columns" in done.stderr
    assert "(passed over: '说明')" in done.stderr
    with sqlite3.connect(ws / "qcrules.db") as conn:
        stored = conn.execute("select nickname from creators where aweme_id like '2269%'")
        assert stored.fetchall() == [("新达人",)]

    none = workbook(ws / "none.xlsx", ["达人", "名字"])
    done = cli("import", "creators", str(none), cwd=ws)
    assert done.returncode == 2
    assert f"{none}:1: required column 'aweme_id' is missing" in done.stderr
    assert "looked at every sheet ('说明', '达人数据')" in done.stderr
    assert "these are the first sheet's, '说明'" in done.stderr


def test_metrics_dated_after_tomorrow_are_refused_and_todays_are_flagged(cli, ws):
    """Metrics of a day to come (+5 days, 2062 for 2026) imported silently and sat in no
    window. A day after tomorrow is refused on its line (tomorrow passes: 千川's day is
    China's, the machine's may be behind); today's and tomorrow's numbers go in with a
    warning that they are not settled yet."""
    from datetime import date, timedelta

    today = date.today()
    days = [today - timedelta(days=1), today, today + timedelta(days=5), date(2062, 11, 1)]
    rows = [[d.isoformat(), "M1", "71233112", "10", "100", "5", ""] for d in days]
    path = write_csv(ws / "future.csv", METRICS_HEADER, rows)
    done = cli("import", "metrics", str(path), cwd=ws)
    assert done.returncode == 2 and count(ws, "metrics") == 0
    future = today + timedelta(days=5)
    assert (
        f"{path}:4: 日期 = '{future}': is in the future (today is {today}): a metric's day "
        "has already happened" in done.stderr
    )
    assert f"{path}:5: 日期 = '2062-11-01': is in the future" in done.stderr
    assert f"check the year (was {today.year} meant?)" in done.stderr

    rows = [[d.isoformat(), "M1", "71233112", "10", "100", "5", ""] for d in days[:2]]
    rows.append([(today + timedelta(days=1)).isoformat(), "M1", "71233112", "1", "10", "1", ""])
    done = cli("import", "metrics", str(write_csv(ws / "ok.csv", METRICS_HEADER, rows)), cwd=ws)
    assert done.returncode == 0, done.stderr
    assert count(ws, "metrics") == 3
    assert (
        f"2 row(s) are dated today ({today}) or later and not settled yet" in done.stderr
        and "import that day again tomorrow (lines 3, 4)" in done.stderr
    )


def test_a_required_cell_written_as_no_value_says_so(cli, ws):
    path = ws / "m.csv"
    path.write_text(
        "日期,商家ID,达人UID,整体消耗(元),整体展示次数,整体点击次数\n"
        "2026-11-01,M1,71233112,nan,100,5\n2026-11-02,M1,71233112,,100,5\n",
        encoding="utf-8",
    )
    done = cli("import", "metrics", str(path), cwd=ws)
    assert done.returncode == 2
    assert "m.csv:2: 整体消耗(元) = 'nan': required, but 'nan' means empty" in done.stderr
    assert "m.csv:3: 整体消耗(元) = '': required, but empty" in done.stderr
