"""Workspace configuration: discovery, precedence and validation of qcrules.toml.

Discovery: --config FILE, else QCRULES_CONFIG, else the nearest qcrules.toml from the current
folder upward. Precedence for every setting: flags > environment > file. Unknown keys are
warnings naming the file and line (a newer qcrules may know them); wrong types are errors.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import tomli as toml  # the user's choice; the same parser as the stdlib's tomllib

from qcrules.errors import ConfigError
from qcrules.i18n import did_you_mean

CONFIG_NAME = "qcrules.toml"
DEFAULT_DB_NAME = "qcrules.db"


@dataclass
class Waiver:
    rule: str
    entity: str
    reason: str
    expires: date
    merchant: str | None = None
    line: int | None = None

    def covers(self, rule: str, entity_id: str, merchant_id: str | None) -> bool:
        if not (rule == self.rule or rule.startswith(self.rule)):
            return False
        if self.entity not in ("*", entity_id):
            return False
        return self.merchant is None or self.merchant == merchant_id


@dataclass
class PacksConfig:
    enable: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


@dataclass
class Config:
    path: Path | None
    root: Path
    database_url: str
    merchants: dict[str, dict[str, Any]] = field(default_factory=dict)
    merchant_lines: dict[str, int | None] = field(default_factory=dict)  # for messages
    merchant_params: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    packs: PacksConfig = field(default_factory=PacksConfig)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # where each override is written: ("params", pack, name) or
    # ("merchant", id, "params", pack, name) -> its line in qcrules.toml, for messages
    param_lines: dict[tuple[str, ...], int | None] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    plugins: dict[str, Any] = field(default_factory=dict)
    tui_theme: str | None = None  # [tui] theme: the TUI's theme, kept when changed there
    tui_keys: dict[str, str] = field(default_factory=dict)  # [tui.keys]: binding id -> keys
    warnings: list[str] = field(default_factory=list)


def find_config(explicit: str | Path | None = None, cwd: Path | None = None) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file {path} does not exist",
                hint="pass the path of a qcrules.toml, or run `qcrules init` to create one",
            )
        return path.resolve()
    env = os.environ.get("QCRULES_CONFIG", "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"QCRULES_CONFIG names {path}, which does not exist",
                hint="unset QCRULES_CONFIG or point it at a qcrules.toml",
            )
        return path.resolve()
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


class _Lines:
    """Maps TOML key paths to line numbers, since tomllib keeps no positions."""

    _header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _key = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str) -> None:
        self.positions: dict[tuple[str, ...], int] = {}
        self.array_items: dict[str, list[int]] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._header.match(line)
            if header:
                table = tuple(_split_key(header.group(1)))
                self.positions.setdefault(table, number)
                if line.lstrip().startswith("[["):
                    self.array_items.setdefault(".".join(table), []).append(number)
                continue
            key = self._key.match(line)
            if key:
                self.positions.setdefault((*table, *_split_key(key.group(1))), number)

    def line(self, *path: str) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in self.positions:
                return self.positions[path[:end]]
        return None


def _split_key(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in key.split(".")]


_TOP = {"database", "merchant", "packs", "params", "waivers", "plugins", "tui"}
_MERCHANT_KEYS = {
    "break_even_roi": (int, float),
    "industry_cvr": (int, float),
    "target_gender": str,
    "target_age_bands": list,
    "categories": list,
    "goal": str,
    "name": str,
    "params": dict,
    # the merchant's own Douyin accounts (达人UID or 抖音号): a 自营授权 on them is fine
    "own_accounts": list,
    # 结算周期 written into the authorization agreement (e.g. "月结，次月15日前")
    "settlement": str,
}
_WAIVER_KEYS = {"rule", "entity", "merchant", "reason", "expires"}
MAX_BREAK_EVEN_ROI = 1000.0  # a break-even ROI beyond this is a typo (a margin under 0.1%)


def _merchant_value_problem(key: str, value: Any) -> str | None:
    """Why a [merchant.X] default is out of range (None when it is fine)."""
    if key == "break_even_roi":
        if not math.isfinite(value) or not 0 < value <= MAX_BREAK_EVEN_ROI:
            return f"must be a number above 0 and at most {MAX_BREAK_EVEN_ROI:g}, not {value!r}"
    elif key == "industry_cvr":
        if not math.isfinite(value) or not 0 <= value <= 1:
            return f"is a share: between 0 and 1 (2% is 0.02), not {value!r}"
    elif key == "target_gender":
        if value not in ("male", "female"):
            return f'must be "male" or "female", not {value!r}'
    elif key == "own_accounts":
        if not all(isinstance(item, str) and item.strip() for item in value):
            return 'must be a list of 抖音号 or 达人UID texts, e.g. ["brand_official"]'
    elif key in ("target_age_bands", "categories"):
        if not all(isinstance(item, str) and item.strip() for item in value):
            return "must be a list of texts"
        if key == "target_age_bands":
            from qcrules.ingest.values import parse_age_bands

            for item in value:
                try:
                    parse_age_bands(item)
                except ValueError:
                    return f'holds {item!r}, which is not an age band like "31-40"'
    return None


class _Checker:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _Lines(text)
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def where(self, *key: str) -> str:
        line = self.lines.line(*key)
        return f"{self.path}:{line}" if line else str(self.path)

    def unknown(self, key: str, known: set[str], *parents: str) -> None:
        hint = did_you_mean(key, sorted(known))
        scope = ".".join(parents) if parents else "top level"
        self.warnings.append(
            f"{self.where(*parents, key)}: unknown key {key!r} in {scope}{hint} (ignored)"
        )

    def expect(self, value: Any, kind: Any, what: str, *key: str) -> bool:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            names = " or ".join(k.__name__ for k in kinds).replace("float", "number")
            self.errors.append(
                f"{self.where(*key)}: {what} must be {names}, not {type(value).__name__} "
                f"({value!r})"
            )
        return ok


def load_config(path: Path | None, *, cwd: Path | None = None) -> Config:
    """Read and check a qcrules.toml; with no file, the defaults of a workspace at cwd."""
    env_url = os.environ.get("QCRULES_DATABASE_URL", "").strip()
    if path is None:
        root = (cwd or Path.cwd()).resolve()
        return Config(path=None, root=root, database_url=env_url or _sqlite_default(root))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: broken TOML: {exc}", hint="fix the syntax at the line shown"
        ) from exc
    except RecursionError:  # tomli refuses values nested over 400 deep this way
        from qcrules.packs.loader import deepest_line

        raise ConfigError(
            f"{path}:{deepest_line(text)}: broken TOML: arrays or tables nested too deeply",
            hint="qcrules.toml needs a few levels of nesting at most",
        ) from None
    chk = _Checker(path, text)
    root = path.parent.resolve()
    cfg = Config(path=path, root=root, database_url="")

    for key in data:
        if key not in _TOP:
            chk.unknown(key, _TOP)

    database = data.get("database", {})
    file_url = None
    if chk.expect(database, dict, "[database]", "database"):
        for key, value in database.items():
            if key == "url":
                if chk.expect(value, str, "database.url", "database", "url"):
                    file_url = _resolve_sqlite(value, root)
            else:
                chk.unknown(key, {"url"}, "database")
    cfg.database_url = env_url or file_url or _sqlite_default(root)

    merchants = data.get("merchant", {})
    if chk.expect(merchants, dict, "[merchant]", "merchant"):
        for mid, settings in merchants.items():
            if not chk.expect(settings, dict, f"[merchant.{mid}]", "merchant", mid):
                continue
            cfg.merchant_lines[mid] = chk.lines.line("merchant", mid)
            clean: dict[str, Any] = {}
            for key, value in settings.items():
                if key not in _MERCHANT_KEYS:
                    chk.unknown(key, set(_MERCHANT_KEYS), "merchant", mid)
                elif chk.expect(
                    value, _MERCHANT_KEYS[key], f"merchant.{mid}.{key}", "merchant", mid, key
                ):
                    problem = _merchant_value_problem(key, value)
                    if problem is not None:
                        chk.errors.append(
                            f"{chk.where('merchant', mid, key)}: merchant.{mid}.{key} {problem}"
                        )
                        continue
                    if key == "own_accounts":
                        value = [str(v).strip() for v in value if str(v).strip()]
                    clean[key] = (
                        float(value) if key in ("break_even_roi", "industry_cvr") else value
                    )
            params = clean.pop("params", None)
            if params:
                cfg.merchant_params[mid] = {
                    pack: dict(values)
                    for pack, values in params.items()
                    if isinstance(values, dict)
                }
                for pack, values in cfg.merchant_params[mid].items():
                    for name in values:
                        key = ("merchant", mid, "params", pack, name)
                        cfg.param_lines[key] = chk.lines.line(*key)
            cfg.merchants[mid] = clean

    packs = data.get("packs", {})
    if chk.expect(packs, dict, "[packs]", "packs"):
        for key, value in packs.items():
            if key in ("enable", "disable", "paths"):
                if chk.expect(value, list, f"packs.{key}", "packs", key):
                    items = [
                        v for v in value if chk.expect(v, str, f"packs.{key} item", "packs", key)
                    ]
                    if key == "paths":
                        cfg.packs.paths = [(root / p).resolve() for p in items]
                    else:
                        setattr(cfg.packs, key, items)
            else:
                chk.unknown(key, {"enable", "disable", "paths"}, "packs")

    params = data.get("params", {})
    if chk.expect(params, dict, "[params]", "params"):
        for pack, values in params.items():
            if chk.expect(values, dict, f"[params.{pack}]", "params", pack):
                cfg.params[pack] = dict(values)
                for name in values:
                    cfg.param_lines[("params", pack, name)] = chk.lines.line("params", pack, name)

    waivers = data.get("waivers", [])
    if chk.expect(waivers, list, "[[waivers]]", "waivers"):
        lines = chk.lines.array_items.get("waivers", [])
        for index, item in enumerate(waivers):
            line = lines[index] if index < len(lines) else None
            where = f"{path}:{line}" if line else str(path)
            if not isinstance(item, dict):
                chk.errors.append(f"{where}: each [[waivers]] entry must be a table")
                continue
            for key in item:
                if key not in _WAIVER_KEYS:
                    hint = did_you_mean(key, sorted(_WAIVER_KEYS))
                    chk.warnings.append(f"{where}: unknown key {key!r} in [[waivers]]{hint}")
            missing = [k for k in ("rule", "reason", "expires") if k not in item]
            if missing:
                chk.errors.append(
                    f"{where}: waiver is missing {', '.join(missing)} "
                    "(every waiver needs a rule, a reason and an expiry date)"
                )
                continue
            expires = item["expires"]
            if isinstance(expires, str):
                with contextlib.suppress(ValueError):
                    expires = date.fromisoformat(expires)
            if isinstance(expires, datetime):  # a TOML date-time: a datetime is also a date
                chk.errors.append(
                    f"{where}: waiver expires is a date and time ({expires.isoformat()}); "
                    f"write the date alone, like {expires.date().isoformat()}"
                )
                continue
            if not isinstance(expires, date):
                chk.errors.append(f"{where}: waiver expires must be a date like 2026-12-31")
                continue
            bad = [
                k
                for k in ("rule", "reason", "entity", "merchant")
                if k in item and not isinstance(item[k], str)
            ]
            if bad:
                chk.errors.append(f"{where}: waiver {', '.join(bad)} must be text")
                continue
            empty = [
                k
                for k in ("rule", "reason", "entity", "merchant")
                if k in item and not item[k].strip()
            ]
            if empty:
                chk.errors.append(
                    f"{where}: waiver {', '.join(empty)} is empty"
                    + (
                        " (an empty rule would waive every rule: name a code like PRM004 "
                        "or a prefix like PRM)"
                        if "rule" in empty
                        else ""
                    )
                )
                continue
            cfg.waivers.append(
                Waiver(
                    rule=item["rule"],
                    entity=item.get("entity", "*"),
                    merchant=item.get("merchant"),
                    reason=item["reason"],
                    expires=expires,
                    line=line,
                )
            )

    plugins = data.get("plugins", {})
    if chk.expect(plugins, dict, "[plugins]", "plugins"):
        cfg.plugins = dict(plugins)

    tui = data.get("tui", {})
    if chk.expect(tui, dict, "[tui]", "tui"):
        for key, value in tui.items():
            if key == "theme":
                if chk.expect(value, str, "tui.theme", "tui", "theme"):
                    cfg.tui_theme = value
            elif key == "keys":
                if chk.expect(value, dict, "[tui.keys]", "tui", "keys"):
                    for binding, keys in value.items():
                        if chk.expect(keys, str, f"tui.keys.{binding}", "tui", "keys", binding):
                            cfg.tui_keys[binding] = keys
            else:
                chk.unknown(key, {"theme", "keys"}, "tui")

    if chk.errors:
        raise ConfigError(
            "invalid configuration:\n  " + "\n  ".join(chk.errors),
            hint=f"fix {path} and run again",
        )
    cfg.warnings = chk.warnings
    return cfg


def set_config_values(
    path: Path, changes: dict[tuple[str, ...], dict[str, Any]], *, comment: str | None = None
) -> None:
    """Set each table's values (the table named by its path, e.g. ("params", "monitoring"))
    in a qcrules.toml, keeping its comments and layout (tomlkit) and replacing the file in
    one step, so it is never half written. The one writer of qcrules.toml: the theme and the
    what-if parameters. `comment` (one line) is written after each value set, as
    `key = value  # comment`: why it was changed."""
    import tomlkit

    # one line (a newline would end the comment), and no control character (TOML forbids them)
    comment = " ".join("".join(c if c.isprintable() else " " for c in comment or "").split())

    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    for section, values in changes.items():
        table: Any = doc
        inline: Any = None  # the outermost `{ … }` on the way: one line, one comment
        for depth, name in enumerate(section):
            inner = table.get(name)
            if inner is None:
                inner = tomlkit.table(is_super_table=depth < len(section) - 1)
                table[name] = inner
            if inline is None and isinstance(inner, tomlkit.items.InlineTable):
                inline = inner
            table = inner
        for key, value in values.items():
            if comment and inline is None:
                value = tomlkit.item(value)
                value.comment(comment)
            table[key] = value
        if comment and inline is not None:
            inline.comment(comment)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(tomlkit.dumps(doc), encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc}", hint="check that it is writable") from exc


def _sqlite_default(root: Path) -> str:
    return f"sqlite:///{root / DEFAULT_DB_NAME}"


def _resolve_sqlite(url: str, root: Path) -> str:
    """Relative SQLite paths are relative to the config file, not the current folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rel = url[len(prefix) :]
        if rel and rel != ":memory:":
            return prefix + str((root / rel).resolve())
    return url


CONFIG_TEMPLATE = """\
# qcrules workspace. Docs: README.md § Configuration.

[database]
# Embedded SQLite beside this file by default. For a team server:
# url = "postgresql+psycopg://user@host:5432/qcrules"
url = "sqlite:///qcrules.db"

# Per-merchant defaults, used where the merchant record leaves a value empty.
# [merchant.M1]
# break_even_roi = 1.8
# target_gender = "male"
# target_age_bands = ["31-40", "41-50"]
# categories = ["男装"]
# industry_cvr = 0.02
# own_accounts = ["brand_official"]   # your own accounts (抖音号 or 达人UID): 自营授权 is fine there
# settlement = "月结，次月15日前结清"   # 结算周期 in the authorization agreement

[packs]
# enable = ["screening", "permissions", "monitoring", "optimization"]   # empty: all
disable = []
paths = []            # folders with extra pack files (*.toml)

# Override pack parameters for this workspace:
# [params.monitoring]
# min_days = 3

# Waive one finding on purpose, with a reason and an expiry date:
# [[waivers]]
# rule = "PRM004"
# entity = "G-0042"
# reason = "全作品授权 agreed in the contract until the campaign ends"
# expires = 2026-12-31

# The terminal UI: the theme (kept when you change it there) and your own keys, by
# binding id (`?` in the UI lists every key):
# [tui]
# theme = "nord"
# [tui.keys]
# apply = "A"
# evaluate = "f5,r"
"""
