"""Post a finding to a 飞书 (Feishu) or 钉钉 (DingTalk) chat-robot webhook."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from qcrules.safety import mask_secret

KINDS = ("feishu", "dingtalk")


def finding_text(finding: dict[str, Any]) -> str:
    entity = finding.get("entity", {})
    where = f"{entity.get('type', '')} {entity.get('id', '')}"
    if entity.get("merchant"):
        where += f" @{entity['merchant']}"
    return f"[qcrules {finding.get('level', '').upper()}] {finding.get('rule', '')} {where}: {finding.get('message', '')}"


def masked_url(url: str) -> str:
    """The webhook address as it may be shown or stored: scheme and host, the path and
    query (where 飞书 and 钉钉 robots carry the access token) masked to their last 4
    characters, as qcrules masks a 合作码."""
    parts = urllib.parse.urlsplit(str(url))
    if not parts.scheme or not parts.netloc:
        return mask_secret(url)
    secret = parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme}://{parts.netloc}/{mask_secret(secret)}"


def payload(kind: str, text: str) -> dict[str, Any]:
    if kind == "feishu":
        return {"msg_type": "text", "content": {"text": text}}
    if kind == "dingtalk":
        return {"msgtype": "text", "text": {"content": text}}
    raise ValueError(f"webhook_kind must be one of {', '.join(KINDS)}, not {kind!r}")


def notify_chat(action: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The `notify_chat` action: post the finding, return what was sent and the reply.

    The robot's address carries its access token: what is returned (printed by `actions
    apply`, kept in the audit log) and said on failure names it masked."""
    settings = (context.get("config") or {}).get("livestream", {})
    url = settings.get("webhook_url")
    if not url:
        raise ValueError(
            "notify_chat needs [plugins.livestream] webhook_url in qcrules.toml "
            "(a 飞书 or 钉钉 robot webhook address)"
        )
    kind = settings.get("webhook_kind", "feishu")
    body = payload(kind, finding_text(action.get("finding", {})))
    if context.get("dry_run"):
        return {"sent": False, "url": masked_url(url), "payload": body}
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=float(settings.get("timeout", 10))) as reply:
            text = reply.read().decode("utf-8", "replace")
            status = reply.status
    except urllib.error.URLError as exc:
        raise RuntimeError(
            f"webhook {masked_url(url)} did not accept the message: {exc}"
        ) from None  # the URLError's own text may carry the address
    return {"sent": True, "url": masked_url(url), "payload": body, "status": status, "reply": text}
