"""qcrules-livestream, installed as a user installs it (pip, entry point): its pack, fields,
importer and webhook action work through qcrules' public hooks only."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

try:
    importlib.metadata.distribution("qcrules-livestream")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover
    pytest.skip(
        "install the plugin first: pip install -e plugins/qcrules-livestream",
        allow_module_level=True,
    )

AS_OF = date(2026, 11, 27)


def cli(*args, cwd=None, env=None):
    full_env = {**os.environ, "QCRULES_LANG": "en", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "qcrules", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def day(offset: int) -> str:
    return (AS_OF + timedelta(days=offset)).isoformat()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("live")
    assert cli("init", str(ws)).returncode == 0
    files = {
        "merchants": "merchant_id,name,break_even_roi\nL1,直播旗舰店,2.0\n",
        "creators": "aweme_id,nickname\n2001,好物直播间\n2002,冷场直播间\n2003,短视频达人\n",
        "grants": "grant_id,merchant_id,aweme_id,auth_type,scope,status,starts_at,ends_at\n"
        f"LG1,L1,2001,cooperative,live_room,active,{day(-20)},{day(10)}\n"
        f"LG2,L1,2002,cooperative,live_room,active,{day(-20)},{day(10)}\n"
        f"LG3,L1,2003,cooperative,single_video,active,{day(-20)},{day(10)}\n",
    }
    for kind, text in files.items():
        (ws / f"{kind}.csv").write_text(text, encoding="utf-8")
        result = cli("import", kind, str(ws / f"{kind}.csv"), cwd=ws)
        assert result.returncode == 0, result.stderr
    # an 电商罗盘 live export: its own headers, mapped by the plugin's importer
    rows = [
        "开播日期,商家ID,主播UID,授权ID,消耗,展示次数,点击次数,直播间成交金额,直播间成交订单数,"
        "成交老粉占比,直播间观看人数,直播间观看次数,成交人数"
    ]
    for offset in range(-6, 1):
        rows.append(f"{day(offset)},L1,2001,LG1,1000,30000,1500,3000,60,30%,4000,6000,100")
        rows.append(f"{day(offset)},L1,2002,LG2,1000,30000,1500,300,6,80%,3000,5000,5")
        rows.append(f"{day(offset)},L1,2003,LG3,1000,30000,1500,3000,60,80%,3000,5000,5")
    (ws / "compass.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = cli("import", "metrics", str(ws / "compass.csv"), cwd=ws)
    assert result.returncode == 0, result.stderr
    assert "not known" not in result.stderr  # 成交人数 is the header map's live_pay_ucnt
    return ws


def test_the_plugin_is_installed_and_listed(workspace):
    plugins = json.loads(cli("plugins", cwd=workspace).stdout)
    mine = next(p for p in plugins if p["name"] == "livestream")
    assert mine["version"] == "0.1.0"
    assert set(mine["hooks"]) == {
        "qcrules_register_packs",
        "qcrules_register_fields",
        "qcrules_register_importers",
        "qcrules_register_actions",
    }
    packs = json.loads(cli("packs", "list", "--format", "json", cwd=workspace).stdout)
    mine = next(p for p in packs if p["id"] == "livestream")
    assert mine["origin"] == "livestream" and mine["rules"] == 4


def test_the_packs_own_tests_pass(workspace):
    result = cli("packs", "test", "livestream", cwd=workspace)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed, 0 failed" in result.stdout


def test_the_fields_are_listed(workspace):
    fields = json.loads(
        cli("packs", "fields", "--entity", "grant", "--format", "json", cwd=workspace).stdout
    )
    mine = {f["name"] for f in fields if f["source"] == "livestream"}
    assert mine == {
        "live_watch_ucnt_7d",
        "live_watch_cnt_7d",
        "live_pay_ucnt_7d",
        "live_gpm_7d",
        "live_watch_pay_rate_7d",
        "live_old_fan_pay_ratio_7d",
    }


def test_live_rooms_are_judged_from_the_compass_columns(workspace):
    result = cli(
        "evaluate",
        "--pack",
        "livestream",
        "--as-of",
        AS_OF.isoformat(),
        "--format",
        "json",
        "--no-store",
        cwd=workspace,
    )
    report = json.loads(result.stdout)
    fired = {(f["rule"], f["entity"]["id"]): f for f in report["findings"]}
    assert set(fired) == {("LIV001", "LG2"), ("LIV002", "LG2"), ("LIV003", "LG2")}
    gpm = fired[("LIV001", "LG2")]["evidence"]["live_gpm_7d"]
    assert gpm == pytest.approx(300 * 7 / (5000 * 7) * 1000)  # GMV per thousand views
    assert fired[("LIV002", "LG2")]["evidence"]["live_watch_pay_rate_7d"] == pytest.approx(5 / 3000)
    assert fired[("LIV003", "LG2")]["evidence"]["live_old_fan_pay_ratio_7d"] == pytest.approx(0.8)
    # the single-video grant is outside the pack's `applies` filter: not judged at all
    assert report["summary"]["checks"]["not_applicable"] == 4


def test_disabling_the_plugin_leaves_qcrules_as_it_was(workspace):
    env = {"QCRULES_DISABLE_PLUGINS": "livestream"}
    packs = json.loads(cli("packs", "list", "--format", "json", cwd=workspace, env=env).stdout)
    assert sorted(p["id"] for p in packs) == [
        "monitoring",
        "optimization",
        "permissions",
        "qcrules",  # the built-in core pack (data freshness)
        "screening",
    ]
    result = cli("evaluate", "--format", "json", "--no-store", cwd=workspace, env=env)
    assert result.returncode in (0, 1)
    assert "livestream" not in {p["id"] for p in json.loads(result.stdout)["run"]["packs"]}


class _Robot(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        _Robot.received.append(json.loads(self.rfile.read(length).decode("utf-8")))
        body = b'{"code":0,"msg":"success"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Keep the test output free of the server's request log."""


@pytest.fixture
def robot():
    server = HTTPServer(("127.0.0.1", 0), _Robot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Robot.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}/open-apis/bot/v2/hook/test", _Robot
    server.shutdown()


FINDING = {
    "rule": "LIV004",
    "level": "error",
    "message": "3000 viewers in 7 days and no sale",
    "entity": {"type": "grant", "id": "LG2", "merchant": "L1"},
}


def handler():
    from qcrules.plugins.manager import get_host

    return get_host().contributions().actions["notify_chat"].handler


@pytest.mark.parametrize("kind", ["feishu", "dingtalk"])
def test_the_action_posts_to_a_chat_robot(robot, kind):
    url, server = robot
    result = handler()(
        {"kind": "notify_chat", "finding": FINDING},
        {"config": {"livestream": {"webhook_url": url, "webhook_kind": kind}}},
    )
    assert result["sent"] is True and result["status"] == 200
    [payload] = server.received
    text = "[qcrules ERROR] LIV004 grant LG2 @L1: 3000 viewers in 7 days and no sale"
    if kind == "feishu":
        assert payload == {"msg_type": "text", "content": {"text": text}}
    else:
        assert payload == {"msgtype": "text", "text": {"content": text}}


def test_the_action_explains_a_missing_webhook():
    with pytest.raises(ValueError, match=r"\[plugins.livestream\] webhook_url"):
        handler()({"kind": "notify_chat", "finding": FINDING}, {"config": {}})


def test_the_action_reports_an_unreachable_robot():
    with pytest.raises(RuntimeError, match="did not accept the message"):
        handler()(
            {"kind": "notify_chat", "finding": FINDING},
            {"config": {"livestream": {"webhook_url": "http://127.0.0.1:9/hook", "timeout": 2}}},
        )


def test_the_robot_address_is_masked_in_apply_output_and_the_audit_log(robot, tmp_path):
    """A 飞书/钉钉 robot address carries its access token: `actions apply` (and --dry-run)
    prints it masked, and the audit log keeps it masked."""
    base, server = robot
    token = "0123456789abcdef-SECRET-TOKEN-wxyz"
    url = base.rsplit("/", 1)[0] + "/" + token
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    files = {
        "merchants": "merchant_id,name,break_even_roi\nL1,直播旗舰店,2.0\n",
        "creators": "aweme_id,nickname\n2002,冷场直播间\n",
        "grants": "grant_id,merchant_id,aweme_id,auth_type,scope,status,starts_at,ends_at\n"
        f"LG2,L1,2002,cooperative,live_room,active,{day(-20)},{day(10)}\n",
        "metrics": "开播日期,商家ID,主播UID,授权ID,消耗,展示次数,点击次数,直播间成交金额,"
        "直播间成交订单数,直播间观看人数,直播间观看次数,成交人数\n"
        + "".join(f"{day(o)},L1,2002,LG2,1000,30000,1500,0,0,3000,5000,0\n" for o in range(-6, 1)),
    }
    for kind, text in files.items():
        (ws / f"{kind}.csv").write_text(text, encoding="utf-8")
        assert cli("import", kind, str(ws / f"{kind}.csv"), cwd=ws).returncode == 0
    config = ws / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'\n[plugins.livestream]\nwebhook_url = "{url}"\n',
        encoding="utf-8",
    )
    evaluated = cli(
        "evaluate",
        "--pack",
        "livestream",
        "--as-of",
        AS_OF.isoformat(),
        "--fail-on",
        "never",
        cwd=ws,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    items = json.loads(cli("actions", "list", "--format", "json", cwd=ws).stdout)
    [item] = [i for i in items if i["action"]["kind"] == "notify_chat"]
    masked = "http://127.0.0.1:" + base.split(":")[2].split("/")[0] + "/****wxyz"

    dry = cli("actions", "apply", item["id"], "--dry-run", cwd=ws)
    assert dry.returncode == 0, dry.stderr
    assert token not in dry.stdout + dry.stderr and "SECRET" not in dry.stdout
    assert masked in dry.stdout
    assert server.received == []

    done = cli("actions", "apply", item["id"], "--format", "json", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert len(server.received) == 1  # the real address was used to post
    assert token not in done.stdout + done.stderr
    assert json.loads(done.stdout)["result"]["url"] == masked
    with sqlite3.connect(ws / "qcrules.db") as conn:
        [(after,)] = conn.execute(
            "select after from audit_log where kind = 'apply:notify_chat'"
        ).fetchall()
    assert token not in after and "SECRET" not in after
    assert json.loads(after)["result"]["url"] == masked
