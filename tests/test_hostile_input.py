"""Input files and options that used to end in a traceback: damaged workbooks, numbers
beyond 64 bits, a mixed-encoding CSV, year 1, an output folder that does not exist. Each
is exit 2 with a message naming the file (and line), and nothing is written."""

from __future__ import annotations

import csv
import sqlite3
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from qcrules.ingest import run_import

HEADER = ["达人UID", "达人昵称", "粉丝数"]


def write_csv(path: Path, rows, header=HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows, header=HEADER) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def rewrite_member(source: Path, target: Path, member: str, data: bytes) -> Path:
    """A copy of a workbook with one part replaced."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            new.writestr(item, data if item.filename == member else old.read(item.filename))
    return target


def damaged_workbooks(folder: Path) -> dict[str, Path]:
    good = write_xlsx(folder / "good.xlsx", [["1", "a", 10]])
    sheet_member = "xl/worksheets/sheet1.xml"
    broken_stream = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as book:
        info = book.getinfo(sheet_member)
    # the compressed bytes of the sheet, inside the local file entry: scramble their middle
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + min(60, info.compress_size - 5)):
        broken_stream[i] ^= 0x5A
    (folder / "stream.xlsx").write_bytes(bytes(broken_stream))
    (folder / "notzip.xlsx").write_bytes(b"PK\x03\x04 this is not a zip at all" * 10)
    (folder / "truncated.xlsx").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    return {
        "bad zip stream": folder / "stream.xlsx",
        "not a zip": folder / "notzip.xlsx",
        "truncated": folder / "truncated.xlsx",
        "malformed sheet XML": rewrite_member(
            good, folder / "sheetxml.xlsx", sheet_member, b"<worksheet><sheetData><row><c"
        ),
        "malformed workbook XML": rewrite_member(
            good, folder / "bookxml.xlsx", "xl/workbook.xml", b"<<<not xml"
        ),
    }


def creators_in(db) -> int:
    from sqlalchemy import text

    with db.connect() as conn:
        return conn.execute(text("select count(*) from creators")).scalar()


# --- damaged XLSX ------------------------------------------------------------------------------


def test_damaged_workbooks_are_unreadable_files_on_either_database(db, tmp_path):
    for what, path in damaged_workbooks(tmp_path).items():
        result = run_import(db, "creators", [path])
        assert not result.ok, what
        (problem,) = result.files[0].problems
        assert "cannot read the file" in problem.reason, (what, problem.reason)
        assert creators_in(db) == 0, what


def test_cli_damaged_workbook_exit_2_no_traceback(cli, tmp_path):
    assert cli("init", str(tmp_path / "ws")).returncode == 0
    for what, path in damaged_workbooks(tmp_path).items():
        done = cli("import", "creators", str(path), cwd=tmp_path / "ws")
        assert done.returncode == 2, (what, done.stderr)
        assert f"{path.name}: cannot read the file" in done.stderr, (what, done.stderr)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, what


# --- numbers beyond 64 bits --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_integers_beyond_2_53_are_refused_with_line_and_column(db, tmp_path, fmt):
    rows = [["1", "a", "10"], ["2", "b", "9223372036854775808"], ["3", "c", "99999999999999999999"]]
    if fmt == "csv":
        path = write_csv(tmp_path / "c.csv", rows)
    else:
        path = write_xlsx(tmp_path / "c.xlsx", [[a, b, int(c)] for a, b, c in rows])
    result = run_import(db, "creators", [path])
    assert not result.ok
    problems = {(p.line, p.column) for p in result.files[0].problems}
    assert problems == {(3, "粉丝数"), (4, "粉丝数")}
    assert all("2**53" in p.reason for p in result.files[0].problems)
    assert creators_in(db) == 0


def test_one_above_2_53_is_refused_though_a_float_cannot_tell_it_from_2_53(db, tmp_path):
    """(A workbook stores numbers as doubles: 2**53 + 1 cannot even be written to one.)"""
    rows = [["1", "a", "9007199254740992"], ["2", "b", "9007199254740993"]]
    path = write_csv(tmp_path / "c.csv", rows)
    result = run_import(db, "creators", [path])
    assert not result.ok
    assert [(p.line, p.column) for p in result.files[0].problems] == [(3, "粉丝数")]
    assert creators_in(db) == 0


def test_rows_of_one_creator_day_that_add_up_beyond_2_53_are_refused(cli, demo_copy):
    """A creator-day's plan rows are summed when stored: a sum no reading can compare
    exactly would stop every later evaluation, so the file is refused at import instead."""
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        (aweme,) = conn.execute("select aweme_id from creators order by aweme_id").fetchone()
        before = conn.execute("select count(*), sum(impressions) from metrics").fetchone()
    half = 2**53
    path = demo_copy / "plans.csv"
    path.write_text(
        "日期,商家ID,达人UID,整体消耗,整体展示次数,整体点击次数\n"
        f"2026-11-20,M1,{aweme},1,{half},1\n2026-11-20,M1,{aweme},1,{half},1\n",
        encoding="utf-8",
    )
    done = cli("import", "metrics", str(path), cwd=demo_copy)
    assert done.returncode == 2
    assert f"{path}:2: 整体展示次数" in done.stderr and f"{path}:3: 整体展示次数" in done.stderr
    assert "add up to 18014398509481984" in done.stderr
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        after = conn.execute("select count(*), sum(impressions) from metrics").fetchone()
    assert after == before
    assert cli("evaluate", "--no-store", cwd=demo_copy).returncode in (0, 1)


def test_days_outside_2000_to_2099_are_refused_but_a_far_end_is_permanent(cli, demo_copy):
    """A metric day or a grant start in year 1 or 9999 is a broken cell (a grant from 1900
    was 'active for 46357 days'); an end after 2099 is how some exports write 永久."""
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        (aweme,) = conn.execute("select aweme_id from creators order by aweme_id").fetchone()
        before = conn.execute("select count(*) from metrics").fetchone()
    metrics = demo_copy / "days.csv"
    metrics.write_text(
        "日期,商家ID,达人UID,整体消耗,整体展示次数,整体点击次数\n"
        f"0001-01-01,M1,{aweme},1,10,1\n9999-12-31,M1,{aweme},1,10,1\n"
        f"2026-11-20,M1,{aweme},1,10,1\n",
        encoding="utf-8",
    )
    done = cli("import", "metrics", str(metrics), cwd=demo_copy)
    assert done.returncode == 2
    assert f"{metrics}:2: 日期 = '0001-01-01': 0001-01-01 is outside 2000-01-01" in done.stderr
    assert f"{metrics}:3: 日期 = '9999-12-31'" in done.stderr
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        assert conn.execute("select count(*) from metrics").fetchone() == before

    grants = demo_copy / "grants.csv"
    grants.write_text(
        "授权ID,商家ID,达人UID,授权类型,授权范围,授权状态,开始时间,结束时间\n"
        f"G-OLD,M1,{aweme},合作达人,直播间,生效中,1900-01-01,2026-12-31\n"
        f"G-FAR,M1,{aweme},合作达人,直播间,生效中,2026-11-01,9999-12-31\n",
        encoding="utf-8",
    )
    done = cli("import", "grants", str(grants), "--skip-invalid", cwd=demo_copy)
    assert ":2: 开始时间 = '1900-01-01'" in done.stderr
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        ends = dict(conn.execute("select grant_id, ends_at from grants where grant_id like 'G-%R'"))
        old = conn.execute("select count(*) from grants where grant_id = 'G-OLD'").fetchone()
    assert ends == {"G-FAR": "2099-12-31"} and old == (0,)


def test_cli_integer_beyond_2_63_exit_2(cli, tmp_path):
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    path = write_csv(ws / "c.csv", [["1", "a", "9223372036854775808"]])
    done = cli("import", "creators", str(path), cwd=ws)
    assert done.returncode == 2
    assert f"{path}:2: 粉丝数 = '9223372036854775808'" in done.stderr
    assert "OverflowError" not in done.stderr and "Traceback" not in done.stderr


# --- mixed encodings ---------------------------------------------------------------------------

UTF8_PART = "达人UID,达人昵称\n" + "".join(f"{1000 + i},小王穿搭{i}\n" for i in range(5))
GB_PART = "".join(f"{2000 + i},老李带货{i}\n" for i in range(5))


@pytest.mark.parametrize(
    ("name", "data", "line"),
    [
        ("utf8-then-gb", UTF8_PART.encode() + GB_PART.encode("gb18030"), 7),
        ("gb-then-utf8", UTF8_PART.encode("gb18030") + GB_PART.encode(), 7),
        ("bom-then-gb", b"\xef\xbb\xbf" + UTF8_PART.encode() + GB_PART.encode("gb18030"), 7),
    ],
)
def test_a_mixed_encoding_csv_is_rejected_at_the_line_where_it_breaks(
    db, tmp_path, name, data, line
):
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    result = run_import(db, "creators", [path])
    assert not result.ok
    (problem,) = result.files[0].problems
    assert f"line {line}" in problem.reason, problem.reason
    assert creators_in(db) == 0


def test_one_encoding_files_still_import(db, tmp_path):
    for encoding in ("gb18030", "utf-8", "utf-8-sig"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes((UTF8_PART + GB_PART).encode(encoding))
        result = run_import(db, "creators", [path])
        assert result.ok, (encoding, result.files[0].problems)
    from sqlalchemy import text

    with db.connect() as conn:
        names = set(conn.execute(text("select nickname from creators")).scalars())
    assert "老李带货0" in names and "小王穿搭4" in names and len(names) == 10


def test_cli_mixed_encoding_exit_2(cli, tmp_path):
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    path = ws / "mixed.csv"
    path.write_bytes(UTF8_PART.encode() + GB_PART.encode("gb18030"))
    done = cli("import", "creators", str(path), cwd=ws)
    assert done.returncode == 2
    assert "the encoding changes on line 7" in done.stderr
    with sqlite3.connect(ws / "qcrules.db") as conn:
        assert conn.execute("select count(*) from creators").fetchone()[0] == 0


# --- dates and output paths ----------------------------------------------------------------------


def runs(ws: Path) -> int:
    with sqlite3.connect(ws / "qcrules.db") as conn:
        return conn.execute("select count(*) from runs").fetchone()[0]


@pytest.mark.parametrize(
    "args",
    [
        ("evaluate", "--as-of", "0001-01-01"),
        ("evaluate", "--as-of", "9999-12-31"),
        ("report", "--as-of", "0001-01-01"),
        ("explain", "MON004", "G-1", "--as-of", "0001-01-01"),
        ("backtest", "--from", "0001-01-01", "--to", "0001-01-03"),
    ],
)
def test_dates_out_of_range_exit_2_nothing_stored(cli, demo_copy, args):
    before = runs(demo_copy)
    done = cli(*args, cwd=demo_copy)
    assert done.returncode == 2, done.stderr
    assert "out of range" in done.stderr and "2000-01-01" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert runs(demo_copy) == before


@pytest.mark.parametrize(
    "args",
    [
        ("evaluate", "--as-of", "2026-11-27", "--format", "json", "-o"),
        ("report", "--as-of", "2026-11-27", "-o"),
        ("report", "--as-of", "2026-11-27", "--format", "xlsx", "-o"),
        ("packs", "doc", "-o"),
    ],
)
def test_output_in_a_missing_folder_exit_2_nothing_written(cli, demo_copy, tmp_path, args):
    target = tmp_path / "no" / "such" / "folder" / "out.txt"
    before = runs(demo_copy)
    done = cli(*args, str(target), cwd=demo_copy)
    assert done.returncode == 2, done.stderr
    assert "does not exist; nothing was written" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "no").exists()
    assert runs(demo_copy) == before  # the evaluation did not even run


def test_agreement_output_in_a_missing_folder(cli, demo_copy, tmp_path):
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        (grant,) = conn.execute("select grant_id from grants limit 1").fetchone()
    done = cli("agreement", grant, "-o", str(tmp_path / "no" / "a.md"), cwd=demo_copy)
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert not (tmp_path / "no").exists()


def test_output_written_whole_or_not_at_all(cli, demo_copy, tmp_path):
    target = tmp_path / "out.json"
    done = cli(
        "evaluate",
        "--as-of",
        "2026-11-27",
        "--no-store",
        "--format",
        "json",
        "-o",
        str(target),
        cwd=demo_copy,
    )
    assert done.returncode in (0, 1), done.stderr
    import json

    assert json.loads(target.read_text(encoding="utf-8"))["findings"]
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("actions", "undo", "99999999999999999999"), "is not in the range"),
        (("actions", "log", "--limit", "99999999999999999999"), "is not in the range"),
    ],
)
def test_huge_integer_options_exit_2(cli, demo_copy, args, message):
    done = cli(*args, cwd=demo_copy)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_grant_request_refuses_a_huge_term_and_a_path_as_video_id(cli, demo_copy):
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        (aweme,) = conn.execute(
            "select aweme_id from pool where merchant_id = 'M1' limit 1"
        ).fetchone()
    base = ("grants", "request", "--merchant", "M1", "--creator", aweme, "--scope", "single_video")
    done = cli(*base, "--video", "V1", "--days", "99999999999", "--dry-run", cwd=demo_copy)
    assert done.returncode == 2 and "must be at most 3650" in done.stderr, done.stderr
    done = cli(*base, "--video", "../\x1b[2J", "--dry-run", cwd=demo_copy)
    assert done.returncode == 2, done.stderr
    assert "an id cannot contain a path separator" in done.stderr
    assert "\x1b" not in done.stderr and "Traceback" not in done.stderr


def test_a_baseline_nested_too_deeply_is_a_usage_error(cli, demo_folder, tmp_path):
    baseline = tmp_path / "deep.json"
    baseline.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    done = cli(
        "evaluate",
        "--as-of",
        "2026-11-27",
        "--no-store",
        "--baseline",
        str(baseline),
        cwd=demo_folder,
    )
    assert done.returncode == 2, done.stderr
    assert "is not qcrules JSON output" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("amounts", [("1e308", "1e308"), ("1e16", "5"), ("9.1e15", "1")])
def test_an_amount_no_export_can_hold_is_refused_on_its_line(cli, demo_copy, amounts):
    """Two spends of 1e308 crashed the import (OverflowError, no file or line), and one was
    stored and shown as ¥inf. An amount above 2**53 is refused on its line; nothing changes."""
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        (aweme,) = conn.execute("select aweme_id from creators order by aweme_id").fetchone()
        before = conn.execute("select count(*), sum(spend) from metrics").fetchone()
    path = demo_copy / "huge.csv"
    path.write_text(
        "日期,商家ID,达人UID,千川账户ID,消耗,展示次数,点击次数\n"
        f"2026-11-20,M1,{aweme},A1,{amounts[0]},100,1\n2026-11-20,M1,{aweme},A2,{amounts[1]},100,1\n",
        encoding="utf-8",
    )
    done = cli("import", "metrics", str(path), cwd=demo_copy)
    assert done.returncode == 2, done.stderr
    assert f"{path}:2: 消耗" in done.stderr and "2**53" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        assert conn.execute("select count(*), sum(spend) from metrics").fetchone() == before
