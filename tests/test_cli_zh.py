"""In zh, the CLI's tables and explanations speak Chinese: headers, levels, entities, action
kinds and where a pack comes from — the words the TUI and the exports use."""

from __future__ import annotations

import json

ZH = {"QCRULES_LANG": "zh", "COLUMNS": "200"}


def test_runs_and_packs_tables_have_chinese_headers_and_words(cli, demo_copy):
    assert cli("evaluate", "--fail-on", "never", cwd=demo_copy).returncode == 0
    runs = cli("runs", "list", cwd=demo_copy, env=ZH).stdout
    assert "截至" in runs and "发现" in runs and "as of" not in runs and "findings" not in runs

    packs = cli("packs", "list", cwd=demo_copy, env=ZH).stdout
    assert "规则包" in packs and "来源" in packs and "内置" in packs
    assert "builtin" not in packs and "version" not in packs

    shown = cli("packs", "show", "monitoring", cwd=demo_copy, env=ZH).stdout
    assert "(内置: " in shown.splitlines()[0]
    assert "参数：" in shown and "params:" not in shown
    mon001 = next(line for line in shown.splitlines() if "MON001" in line)
    assert "警告" in mon001 and "授权" in mon001 and "调整达人池" in mon001
    assert "warn" not in mon001 and "adjust_pool" not in mon001

    fields = cli("packs", "fields", cwd=demo_copy, env=ZH).stdout
    assert "字段" in fields and "含义" in fields and "│ 达人 " in fields


def test_explain_speaks_chinese_and_english_stays_as_it_was(cli, demo_copy):
    assert cli("evaluate", "--fail-on", "never", cwd=demo_copy).returncode == 0
    grant = json.loads(cli("grants", "list", "--format", "json", cwd=demo_copy).stdout)[0]
    zh = cli("explain", "PRM002", grant["grant_id"], cwd=demo_copy, env=ZH).stdout
    first = zh.splitlines()[0]
    assert f"授权 {grant['grant_id']}" in first and "截至" in first and "（引擎：" in first
    en = cli("explain", "PRM002", grant["grant_id"], cwd=demo_copy).stdout.splitlines()[0]
    assert f"grant {grant['grant_id']}" in en and ", as of " in en and "(engine: " in en
