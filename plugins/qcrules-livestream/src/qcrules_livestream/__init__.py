"""qcrules-livestream: live-room rules, fields, a 电商罗盘 importer and a chat-robot action.

Everything here goes through qcrules' public hooks; nothing in qcrules knows this plugin.
"""

from __future__ import annotations

from pathlib import Path

from qcrules import hookimpl
from qcrules_livestream.fields import FIELDS
from qcrules_livestream.webhook import notify_chat

__version__ = "0.1.0"

COMPASS_LIVE_HEADERS = {
    "date": ["开播日期", "直播日期"],
    "aweme_id": ["主播UID", "主播ID"],
    "gmv": ["直播间成交金额", "直播成交金额"],
    "orders": ["直播间成交订单数", "成交订单数"],
    "old_fan_order_ratio": ["成交老粉占比"],
    "live_watch_ucnt": ["直播间观看人数", "观看人数", "累计观看人数"],
    "live_watch_cnt": ["直播间观看次数", "观看次数", "累计观看次数"],
    "live_pay_ucnt": ["成交人数", "直播间成交人数"],
}


@hookimpl
def qcrules_register_packs(register):
    register(Path(__file__).parent / "packs")


@hookimpl
def qcrules_register_fields(register):
    for name, type_, doc_en, doc_zh, unit, compute in FIELDS:
        register(name, type_, "grant", doc_en, compute, doc_zh=doc_zh, unit=unit)


@hookimpl
def qcrules_register_importers(register):
    register("metrics", "compass-live", COMPASS_LIVE_HEADERS)


@hookimpl
def qcrules_register_actions(register):
    register("notify_chat", notify_chat, zh="推送到群机器人", en="post to the chat robot")
