"""`qcrules report`: the monitoring sheet per grant and day, checked against the SQLite file
and the monitoring bands, in CSV, HTML and XLSX."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

TODAY = date(2026, 11, 27)
AS_OF = ("--as-of", TODAY.isoformat())


@pytest.fixture
def ws(demo_folder):
    return demo_folder  # the report only reads


def sheet(cli, ws, *args) -> list[dict]:
    result = cli("report", *AS_OF, *args, cwd=ws)
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_csv_rows_are_the_grants_days_with_ratios_from_the_records(cli, ws):
    rows = sheet(cli, ws, "--days", "3")
    for merchant in {r["merchant"] for r in rows}:  # its 3 days, ending on its last data day
        days = sorted({r["date"] for r in rows if r["merchant"] == merchant})
        last = date.fromisoformat(days[-1])
        assert last < TODAY and set(days) <= {str(last - timedelta(days=n)) for n in range(3)}
    row = next(r for r in rows if int(r["impressions"]) > 0 and r["GMV"])
    with sqlite3.connect(ws / "qcrules.db") as conn:
        clicks, shows, spend, gmv = conn.execute(
            "select clicks, impressions, spend, gmv from metrics m join grants g"
            " on g.merchant_id = m.merchant_id and g.aweme_id = m.aweme_id"
            " where g.grant_id = ? and m.date = ?",
            (row["grant"], row["date"]),
        ).fetchone()
    assert row["CTR"] == f"{clicks / shows:.2%}"
    assert row["ROI"] == f"{gmv / spend:.2f}"


def test_the_bands_follow_the_monitoring_rules(cli, ws):
    rows = sheet(cli, ws, "--days", "7")
    bands = {r["CTR band"] for r in rows}
    assert "normal" in bands and bands <= {"too low", "below", "normal", "above", "too broad", ""}
    for r in rows:
        if r["CTR"]:
            ctr = float(r["CTR"].rstrip("%")) / 100
            expected = (
                "too low"
                if ctr < 0.01
                else "below"
                if ctr < 0.03
                else "normal"
                if ctr <= 0.10
                else "above"
                if ctr <= 0.20
                else "too broad"
            )
            # the text is rounded to 0.01%: only judge values clear of a boundary
            if min(abs(ctr - b) for b in (0.01, 0.03, 0.10, 0.20)) > 0.0001:
                assert r["CTR band"] == expected, r
    # the demo's ROI-below-break-even grant (MON004) shows it day by day
    roi_rows = [r for r in rows if r["grant"] == "G-930000" and r["ROI vs break-even"]]
    assert roi_rows and all(r["ROI vs break-even"] == "below" for r in roi_rows[-3:])


def test_one_grant_and_the_html_page(cli, ws):
    rows = sheet(cli, ws, "--grant", "G-930000", "--days", "5")
    assert {r["grant"] for r in rows} == {"G-930000"} and len(rows) <= 5
    page = cli("report", *AS_OF, "--format", "html", "--grant", "G-930000", cwd=ws)
    assert page.returncode == 0
    assert page.stdout.startswith("<!doctype html>") and "<table>" in page.stdout
    assert 'class="out"' in page.stdout and "G-930000" in page.stdout


def test_xlsx_has_the_same_rows_with_formats_and_fills(cli, ws, tmp_path):
    rows = sheet(cli, ws, "--days", "7")
    out = tmp_path / "sheet.xlsx"
    result = cli("report", *AS_OF, "--days", "7", "--format", "xlsx", "-o", str(out), cwd=ws)
    assert result.returncode == 0, result.stderr
    book = load_workbook(out)
    sheet_ = book.active
    assert sheet_.max_row == len(rows) + 1
    header = [c.value for c in sheet_[1]]
    assert header[0] == "grant" and "CTR band" in header
    ctr_column = header.index("CTR") + 1
    assert sheet_.cell(row=2, column=ctr_column).number_format == "0.00%"
    band_column = header.index("ROI vs break-even") + 1
    fills = {
        sheet_.cell(row=n, column=band_column).value: sheet_.cell(
            row=n, column=band_column
        ).fill.fgColor.rgb
        for n in range(2, sheet_.max_row + 1)
    }
    assert fills["below"].endswith("FDE2E1") and fills["ok"].endswith("E6F4EA")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "xlsx"), "needs --output"),
        (("--format", "xlsx", "-o", "-"), "needs --output"),
        (("--days", "0"), "--days 0 is not between 1 and 366"),
        (("--grant", "G-930000x"), "did you mean G-930000"),
        # as `evaluate --merchant M9` says: not an empty sheet that looks like "all is well"
        (("--merchant", "M9"), "unknown merchant 'M9'"),
        (("--merchant", "M11"), "unknown merchant 'M11'; did you mean 'M1'?"),
        (("--merchant", "m1"), "unknown merchant 'm1'"),
        (
            ("--format", "csv", "-o", "/no/such/folder/x.csv"),
            "the folder /no/such/folder does not exist",
        ),
    ],
)
def test_bad_requests_are_refused_with_a_hint(cli, ws, args, message):
    result = cli("report", *AS_OF, *args, cwd=ws)
    assert result.returncode == 2
    assert message in result.stderr and "hint" in result.stderr


def test_a_file_written_for_excel_starts_with_a_bom(cli, ws, tmp_path):
    out = tmp_path / "sheet.csv"
    assert cli("report", *AS_OF, "-o", str(out), cwd=ws).returncode == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (tmp_path / "sheet.csv.partial").exists()


def test_the_sheet_and_mon001_to_mon003_agree_under_a_merchants_own_bands(demo_copy):
    """A merchant with its own CTR bands ([merchant.M2.params.monitoring]): the sheet judges
    that merchant's days against them, other merchants against the workspace's, and MON003
    fires for exactly the grants whose 7-day CTR falls outside that merchant's normal band."""
    from qcrules import service
    from qcrules.evaluation import EvaluateOptions
    from qcrules.report import ctr_band
    from qcrules.workspace import Workspace

    config = demo_copy / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\n[merchant.M2.params.monitoring]\nctr_normal_min = 0.045\nctr_normal_max = 0.06\n",
        encoding="utf-8",
    )
    workspace = Workspace.discover(config)
    try:
        result = service.evaluate(
            workspace, EvaluateOptions(as_of=TODAY, store=False, fail_on="never")
        )
        sheet = service.monitoring_sheet(workspace, as_of=TODAY, days=7)
    finally:
        workspace.close()
    own = sheet.bands_for("M2")
    assert own["ctr_normal_min"] == 0.045 and own["ctr_normal_max"] == 0.06
    assert sheet.bands_for("M1") == sheet.bands and sheet.bands["ctr_normal_min"] == 0.03
    for row in sheet.rows:  # each day against its own merchant's bands
        assert row.ctr_band == ctr_band(row.ctr, sheet.bands_for(row.merchant_id)), row
    assert any(  # the override changes what the sheet says for some of M2's days
        ctr_band(row.ctr, sheet.bands) != row.ctr_band
        for row in sheet.rows
        if row.merchant_id == "M2"
    )

    fired = {
        (f["rule"], f["entity"]["id"])
        for f in result.report["findings"]
        if f["rule"] in ("MON001", "MON002", "MON003") and f["entity"]["merchant"] == "M2"
    }
    expected = set()
    for fact in result.facts["grant"]:
        v = fact.values
        judged = (
            fact.merchant_id == "M2"
            and v.get("status") == "active"
            and (v.get("days_with_data") or 0) >= 3
            and (v.get("impressions_7d") or 0) >= 3000
        )
        band = ctr_band(v.get("ctr_7d"), sheet.bands_for("M2")) if judged else None
        rule = {"broad": "MON001", "low": "MON002", "below": "MON003", "above": "MON003"}
        if band in rule:
            expected.add((rule[band], fact.entity_id))
    assert fired == expected
    assert len({gid for rule, gid in fired if rule == "MON003"}) > 1  # not just the demo's one


def test_output_dash_is_standard_output(cli, ws):
    """`-o -` writes to standard output, as most tools read it (it wrote a file named -)."""
    assert sheet(cli, ws, "--days", "3", "-o", "-") == sheet(cli, ws, "--days", "3")
    assert not (ws / "-").exists()


def test_long_digit_ids_stay_whole_when_excel_opens_the_csv(cli, tmp_path):
    """A 19-digit 达人UID written as a bare number became 2.26915E+18 in Excel (its last
    digits lost). Digit-only ids are written with a leading tab, which Excel keeps as text,
    as 抖店's and 千川's own exports do; a CSV reader gets the id back with strip(), and the
    XLSX keeps the id as text. The import rejects file, fixed in Excel and imported again,
    writes them the same way, and `qcrules import` reads them back whole."""
    from helpers import write_csv

    uid, merchant = "2269150000000000001", "1743000000000000099"
    today = date.today()
    folder = tmp_path / "ws"
    assert cli("init", str(folder)).returncode == 0
    files = {
        "merchants": (["merchant_id", "name", "break_even_roi"], [[merchant, "店", "1.8"]]),
        "creators": (["aweme_id", "nickname"], [[uid, "甲"]]),
        "grants": (
            [
                "grant_id",
                "merchant_id",
                "aweme_id",
                "auth_type",
                "scope",
                "status",
                "starts_at",
                "ends_at",
            ],
            [
                [
                    "G-1",
                    merchant,
                    uid,
                    "cooperative",
                    "live_room",
                    "active",
                    (today - timedelta(days=5)).isoformat(),
                    (today + timedelta(days=10)).isoformat(),
                ]
            ],
        ),
        "metrics": (
            ["date", "merchant_id", "aweme_id", "spend", "impressions", "clicks", "gmv"],
            [[(today - timedelta(days=1)).isoformat(), merchant, uid, "10", "1000", "50", "30"]],
        ),
    }
    for kind, (header, rows) in files.items():
        path = write_csv(folder / f"{kind}.csv", header, rows)
        extra = ["--merchant", merchant] if kind == "creators" else []
        done = cli("import", kind, str(path), *extra, cwd=folder)
        assert done.returncode == 0, done.stderr
    result = cli("report", "--days", "3", cwd=folder)
    assert result.returncode == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["creator"] == "\t" + uid and row["merchant"] == "\t" + merchant
    assert row["grant"] == "G-1" and row["creator"].strip() == uid
    assert f",\t{uid}," in result.stdout  # not 2269150000000000001 as a bare number

    # the rejects file: fixed and imported again, the ids are the same ids
    bad = write_csv(
        folder / "bad.csv",
        ["date", "merchant_id", "aweme_id", "spend", "impressions", "clicks"],
        [[(today - timedelta(days=2)).isoformat(), merchant, uid, "ten", "1000", "50"]],
    )
    rejects = folder / "rejects.csv"
    done = cli("import", "metrics", str(bad), "--skip-invalid", "--rejects", str(rejects),
               cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = rejects.read_text(encoding="utf-8-sig")
    assert f"\t{merchant},\t{uid},ten" in text
    rejects.write_text(text.replace(",ten,", ",12,"), encoding="utf-8-sig")
    again = cli("import", "metrics", str(rejects), cwd=folder)
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(folder / "qcrules.db") as conn:
        stored = conn.execute("select distinct merchant_id, aweme_id from metrics").fetchall()
    assert stored == [(merchant, uid)]


def test_the_sheet_ends_on_the_last_data_day_as_the_windows_do(cli, ws):
    """Exports end yesterday: a sheet ending today showed one day fewer than asked, and
    `--days 1` only its header. It ends where the merchant's data (and its facts' windows)
    end, with as many days as asked."""
    with sqlite3.connect(ws / "qcrules.db") as conn:  # M1's data ends the day before
        (last,) = conn.execute("select max(date) from metrics where merchant_id = 'M1'").fetchone()
    assert last == (TODAY - timedelta(days=1)).isoformat()

    def m1(rows: list[dict]) -> set[str]:
        return {r["date"] for r in rows if r["merchant"] == "M1"}

    assert m1(sheet(cli, ws, "--days", "1")) == {last}
    week = {(TODAY - timedelta(days=n)).isoformat() for n in range(1, 8)}
    assert m1(sheet(cli, ws, "--days", "7")) == week
    later = cli("report", "--as-of", (TODAY + timedelta(days=5)).isoformat(), "--days", "1",
                "--format", "csv", cwd=ws)  # fmt: skip
    assert m1(list(csv.DictReader(io.StringIO(later.stdout)))) == {last}


def test_the_tui_sheet_leaves_roi_unknown_when_a_day_lacks_gmv(demo_folder):
    """The Monitoring tab summed a missing GMV as 0 and showed ROI 0.00 (and CVR 0.00%);
    the facts and the report say unknown (—), and its 7 days are calendar days."""
    from dataclasses import replace

    from qcrules import service
    from qcrules.tui.present import sheet_table
    from qcrules.workspace import Workspace

    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    try:
        built = service.monitoring_sheet(workspace, as_of=TODAY, days=14)
    finally:
        workspace.close()
    end = max(r.day for r in built.rows if r.merchant_id == "M1")
    grant = next(
        r.grant_id for r in built.rows if r.day == end and r.gmv and r.orders and r.impressions
    )
    built.rows = [
        replace(r, gmv=None, orders=None) if r.grant_id == grant and r.day == end else r
        for r in built.rows
    ]
    rows, cells = sheet_table(built)
    mine = cells[[g for g, _ in rows].index(grant)]
    assert mine[5].plain == "—" and mine[7].plain == "—"  # ROI and CVR: unknown, not 0
    assert mine[3].plain.endswith("%")  # CTR still known
    # a day older than the 7-day window no longer counts in it
    built.rows = [
        replace(r, gmv=None) if r.grant_id == grant and r.day == end - timedelta(days=8) else r
        for r in built.rows
        if not (r.grant_id == grant and r.day == end)
    ]
    rows, cells = sheet_table(built)
    assert cells[[g for g, _ in rows].index(grant)][5].plain not in ("—", "0.00")
