"""The words of grants: states, auth types, scopes and channels with their zh/en labels, and
the limits of a safe term."""

from __future__ import annotations

from qcrules.i18n import tr
from qcrules.safety import mask_secret

SAFE_DAYS = 15  # the guide: 15 or 30 days, never permanent
MAX_TERM_DAYS = 3650  # a term longer than ten years is a typo (permanent is --until 2099-12-31)
CHANNEL_NAMES = {
    "pc": "pc",
    "mobile_pre_order": "mobile_pre_order",
    "mobile_in_order": "mobile_at_order",  # the 随心推 下单时 scenario, as the CLI spells it
    "mobile_at_order": "mobile_at_order",
}
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("requested", "revoked"),
    "requested": ("active", "rejected", "revoked", "expired"),
    "active": ("revoked", "expired"),
    "rejected": (),
    "revoked": (),
    "expired": (),
}
MARK_TARGETS = ("requested", "approved", "active", "rejected", "revoked", "expired")
LIVE = ("draft", "requested", "active")

STATUS_LABEL = {  # `approved` is a mark (the creator confirmed), recorded as active
    "draft": ("草稿", "draft"),
    "requested": ("已申请", "requested"),
    "approved": ("已通过", "approved"),
    "active": ("生效中", "active"),
    "rejected": ("已拒绝", "rejected"),
    "revoked": ("已撤销", "revoked"),
    "expired": ("已过期", "expired"),
}
AUTH_LABEL = {
    "cooperative": ("合作达人授权", "cooperative (合作达人授权)"),
    "self_operated": ("自营授权", "self-operated (自营授权)"),
    "official": ("官方授权", "official (官方授权)"),
}
SCOPE_LABEL = {
    "single_video": ("单视频", "single video"),
    "live_room": ("直播间", "live room"),
    "all_works": ("所有作品", "all works"),
    "account": ("抖音号授权（账号级）", "account level (抖音号授权)"),
}
CHANNEL_LABEL = {
    "pc": ("PC端：巨量千川后台", "PC: the Qianchuan backend"),
    "mobile_pre_order": ("移动端：小店随心推 下单前", "mobile: 小店随心推, before ordering"),
    "mobile_at_order": ("移动端：小店随心推 下单时", "mobile: 小店随心推, while ordering"),
}


def label(table_: dict[str, tuple[str, str]], key: str | None) -> str:
    zh, en = table_.get(key or "", (key or "—", key or "—"))
    return tr(zh, en)


def zh_word(table_: dict[str, tuple[str, str]], key: object) -> str:
    """A stored word (requested, self_operated, live_room) in Chinese when the user reads
    Chinese; in English the word itself, as the JSON, the records and a table column have it."""
    text = "" if key is None else str(key)
    return tr(table_[text][0], text) if text in table_ else text


def mask_code(code: str | None) -> str | None:
    """A 合作码 as it may be shown (the one masking rule: its last 4 characters); None when
    there is none."""
    return mask_secret(code) or None


__all__ = [
    "AUTH_LABEL",
    "CHANNEL_LABEL",
    "CHANNEL_NAMES",
    "LIVE",
    "MARK_TARGETS",
    "MAX_TERM_DAYS",
    "SAFE_DAYS",
    "SCOPE_LABEL",
    "STATUS_LABEL",
    "TRANSITIONS",
    "label",
    "mask_code",
    "zh_word",
]
