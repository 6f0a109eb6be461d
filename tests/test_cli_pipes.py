"""Output piped to grep or a file is for machines too: nothing in it may be cut short."""

from __future__ import annotations

LONG_ID = "agency-huadong-livestream-compliance-checks-2026"


def test_a_piped_table_never_truncates_a_long_pack_id(cli, demo_copy):
    folder = demo_copy / "team-packs"
    folder.mkdir()
    (folder / "team.toml").write_text(
        f'[pack]\nid = "{LONG_ID}"\nversion = "1.0.0"\nentity = "grant"\n'
        'title = { zh = "华东代理商的直播间合规检查（很长的标题）", '
        'en = "The East China agency\'s live-room compliance checks (a long title)" }\n\n'
        '[[rules]]\nid = "TEM001"\nname = "x"\nlevel = "warn"\nwhen = "roi_7d < 0"\n'
        'action = { kind = "review_grant" }\nmessage = "x"\nsource = "team"\n',
        encoding="utf-8",
    )
    config = demo_copy / "qcrules.toml"
    text = config.read_text(encoding="utf-8")
    assert "paths = []" in text
    config.write_text(text.replace("paths = []", 'paths = ["team-packs"]'), encoding="utf-8")

    piped = cli("packs", "list", cwd=demo_copy, env={"COLUMNS": None})
    assert piped.returncode == 0, piped.stderr
    line = next(line for line in piped.stdout.splitlines() if LONG_ID in line)
    assert "(a long title)" in line and str(folder / "team.toml") in line
    assert "…" not in piped.stdout

    # a terminal width set on purpose is still honoured
    narrow = cli("packs", "list", cwd=demo_copy, env={"COLUMNS": "60"})
    assert LONG_ID not in narrow.stdout
