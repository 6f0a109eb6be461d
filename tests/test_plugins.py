"""The plugin host: entry-point plugins add packs and fields with no change to the core;
broken plugins are named and skipped; hooks are documented."""

from __future__ import annotations

import inspect
import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from conftest import ENGINE
from qcrules import service
from qcrules.plugins import hookspecs
from qcrules.plugins.manager import PluginLoadError, get_host
from qcrules.testing import register_plugin

ROOT = Path(__file__).resolve().parent.parent

PLUGIN_PACK = """\
[pack]
id = "throwaway"
version = "0.3.0"
entity = "grant"
title = { zh = "临时", en = "Throwaway" }

[params]
max_daily_gmv = 100000.0

[[rules]]
id = "THR001"
name = "gmv-per-day-high"
level = "warn"
when = "gmv_per_day_7d > params.max_daily_gmv"
action = { kind = "tell_the_boss" }
message = "GMV per day {gmv_per_day_7d:,.0f}"
source = "throwaway plugin"

[[tests]]
name = "fires"
fact = { gmv_per_day_7d = 200000.0 }
expect = ["THR001"]

[[tests]]
name = "quiet"
fact = { gmv_per_day_7d = 10.0 }
expect = []
"""

PLUGIN_MODULE = """\
from pathlib import Path

from qcrules import hookimpl

CALLS = []


@hookimpl
def qcrules_register_packs(register):
    register(Path(__file__).parent / "packs")


@hookimpl
def qcrules_register_fields(register):
    def compute(facts, context):
        CALLS.append(len(facts))
        return [(f.values.get("gmv_7d") or 0) / 7 * 1000 for f in facts]

    register("gmv_per_day_7d", "number", "grant", "GMV per day over 7 days (x1000)", compute)


@hookimpl
def qcrules_register_actions(register):
    def tell(action, context):
        told = Path(context["config"].get("throwaway", {}).get("outbox", "outbox.txt"))
        line = f"{action['finding']['entity']['id']}: {action['finding']['message']}"
        if not context["dry_run"]:
            with told.open("a", encoding="utf-8") as out:
                out.write(line + "\\n")
        return {"told": line}

    register("tell_the_boss", tell, zh="告诉老板", en="tell the boss")


@hookimpl
def qcrules_register_commands(cli):
    @cli.command()
    def hello():
        "Say hello from the throwaway plugin."
        print("你好, qcrules")
"""


def make_distribution(
    site: Path, name: str, module: str, files: dict[str, str], version: str = "0.1.0"
) -> None:
    """An installed distribution as pip leaves it: a package plus its dist-info with an
    entry point in the `qcrules` group."""
    package = site / module
    for relative, text in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    info = site / f"{module}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(f"[qcrules]\n{name} = {module}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("demo") / "ws"
    assert run_cli("init", "--demo", str(folder)).returncode == 0
    return folder


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    make_distribution(
        site,
        "throwaway",
        "qcrules_throwaway",
        {"__init__.py": PLUGIN_MODULE, "packs/throwaway.toml": PLUGIN_PACK},
    )
    return site


def with_path(site: Path, **extra) -> dict:
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.update(extra)
    return env


def test_an_installed_plugin_adds_a_pack_with_no_core_change(cli, demo, site):
    """The first calls in a process of their own, as a user runs qcrules after `pip
    install`; the rest in this one, with the site folder on sys.path for the call."""
    from conftest import run_cli_process

    env = with_path(site)
    plugins = json.loads(run_cli_process("plugins", cwd=demo, env=env).stdout)
    assert plugins == [
        {
            "name": "throwaway",
            "version": "0.1.0",
            "hooks": [
                "qcrules_register_actions",
                "qcrules_register_commands",
                "qcrules_register_fields",
                "qcrules_register_packs",
            ],
        }
    ]
    hello = run_cli_process("hello", env=env, cwd=demo)
    assert hello.returncode == 0 and hello.stdout == "你好, qcrules\n"
    assert "hello" in cli("--help", env=env, cwd=demo).stdout
    listed = json.loads(cli("packs", "list", "--format", "json", env=env, cwd=demo).stdout)
    mine = [p for p in listed if p["id"] == "throwaway"]
    assert mine and mine[0]["origin"] == "throwaway" and mine[0]["version"] == "0.3.0"
    tested = cli("packs", "test", "throwaway", env=env, cwd=demo)
    assert tested.returncode == 0 and "2 passed, 0 failed" in tested.stdout
    fields = json.loads(cli("packs", "fields", "--format", "json", env=env, cwd=demo).stdout)
    assert {
        "name": "gmv_per_day_7d",
        "entity": "grant",
        "type": "number",
        "unit": "",
        "doc": "GMV per day over 7 days (x1000)",
        "source": "throwaway",
    } in fields
    result = cli(
        "evaluate", "--format", "json", "--no-store", "--pack", "throwaway", env=env, cwd=demo
    )
    report = json.loads(result.stdout)
    assert report["run"]["packs"] == [
        {"id": "throwaway", "version": "0.3.0", "origin": "throwaway"}
    ]
    assert report["findings"], "the plugin's rule fires on the demo's big sellers"
    assert {f["action"]["kind"] for f in report["findings"]} == {"tell_the_boss"}
    assert all(f["evidence"]["gmv_per_day_7d"] > 100000 for f in report["findings"])


def test_load_and_disable_controls(cli, demo, site):
    for env in (
        with_path(site, QCRULES_LOAD_PLUGINS=""),
        with_path(site, QCRULES_DISABLE_PLUGINS="throwaway"),
    ):
        assert json.loads(cli("plugins", env=env, cwd=demo).stdout) == []
        listed = json.loads(cli("packs", "list", "--format", "json", env=env, cwd=demo).stdout)
        assert "throwaway" not in {p["id"] for p in listed}
    only = with_path(site, QCRULES_LOAD_PLUGINS="throwaway")
    assert [p["name"] for p in json.loads(cli("plugins", env=only, cwd=demo).stdout)] == [
        "throwaway"
    ]


def test_a_pack_using_a_plugin_field_needs_the_plugin(cli, demo, site, tmp_path):
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / "mine.toml").write_text(
        PLUGIN_PACK.replace('"throwaway"', '"mine"').replace("THR001", "MIN001"), encoding="utf-8"
    )
    without = cli("packs", "validate", str(folder / "mine.toml"), cwd=demo)
    assert without.returncode == 4 and "unknown field 'gmv_per_day_7d'" in without.stderr
    with_plugin = cli("packs", "validate", str(folder / "mine.toml"), env=with_path(site), cwd=demo)
    assert with_plugin.returncode == 0, with_plugin.stderr


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"__init__.py": "raise ImportError('needs a module nobody has')\n"},
            "plugin 'broken' failed to import: ImportError: needs a module nobody has",
        ),
        (
            {
                "__init__.py": "from qcrules import hookimpl\n\n@hookimpl\n"
                "def qcrules_register_packs(register):\n    raise RuntimeError('boom')\n"
            },
            "plugin 'broken' failed in qcrules_register_packs: RuntimeError: boom",
        ),
        (
            {
                "__init__.py": "from pathlib import Path\nfrom qcrules import hookimpl\n\n@hookimpl\n"
                "def qcrules_register_packs(register):\n"
                "    register(Path(__file__).parent / 'bad.toml')\n",
                "bad.toml": "[pack]\nid = 'bad'\nversion = '1'\n[[rules]]\nid = 'BAD001'\n",
            },
            "plugin 'broken': pack skipped",
        ),
    ],
)
def test_a_broken_plugin_is_named_and_the_builtins_still_evaluate(
    cli, demo, tmp_path, files, expected
):
    site = tmp_path / "broken-site"
    make_distribution(site, "broken", "qcrules_broken", files)
    result = cli("evaluate", "--format", "json", "--no-store", env=with_path(site), cwd=demo)
    assert result.returncode == 1, result.stderr  # the demo has error findings
    assert expected in result.stderr
    report = json.loads(result.stdout)
    assert {p["id"] for p in report["run"]["packs"]} == {
        "screening",
        "permissions",
        "monitoring",
        "optimization",
        "qcrules",
    }
    assert report["findings"]


def test_a_misspelled_hook_fails_loudly(cli, demo, tmp_path):
    site = tmp_path / "typo-site"
    make_distribution(
        site,
        "typo",
        "qcrules_typo",
        {"__init__.py": "def qcrules_register_pack(register):\n    pass\n"},
    )
    result = cli("evaluate", "--no-store", env=with_path(site), cwd=demo)
    assert result.returncode == 2
    assert "plugin 'typo' implements an unknown hook" in result.stderr
    assert (
        "qcrules_register_pack" in result.stderr and "QCRULES_DISABLE_PLUGINS=typo" in result.stderr
    )


def test_testing_fixture_registers_for_one_test(qcrules_plugin, tmp_path):
    class Formats:
        @staticmethod
        def qcrules_register_formats(register):
            register(
                "count",
                lambda result, stream: stream.write(str(len(result.report["findings"]))),
                "the number of findings",
            )

    qcrules_plugin(Formats(), name="formats-test")
    assert "count" in service.output_formats()


def test_the_fixture_cleaned_up_after_itself():
    assert "count" not in service.output_formats()
    with register_plugin(object(), name="nothing"):
        assert "nothing" in {r["name"] for r in get_host().describe()}
    assert "nothing" not in {r["name"] for r in get_host().describe()}


def test_registering_an_unknown_hook_directly_is_refused():
    class Typo:
        @staticmethod
        def qcrules_register_format(register):
            pass

    with pytest.raises(PluginLoadError, match="unknown hook"):
        get_host().register(Typo(), name="typo-direct")
    assert "typo-direct" not in {r["name"] for r in get_host().describe()}


def test_plugin_fields_are_computed_in_batches(qcrules_plugin, demo, tmp_path):
    calls = []
    unread = []
    pack = tmp_path / "ones.toml"
    pack.write_text(
        '[pack]\nid = "ones"\nversion = "1.0.0"\nentity = "creator"\n'
        'title = { zh = "一", en = "Ones" }\n\n[[rules]]\nid = "ONE001"\nname = "one"\n'
        'level = "info"\nentity = "merchant"\nwhen = "always_one > 1"\n'
        'action = { kind = "recruit_creators" }\nmessage = "one"\nsource = "test"\n',
        encoding="utf-8",
    )

    class Field:
        @staticmethod
        def qcrules_register_packs(register):
            register(pack)

        @staticmethod
        def qcrules_register_fields(register):
            def compute(facts, context):
                calls.append(len(facts))
                return {f.entity_id: 1 for f in facts}

            def never(facts, context):
                unread.append(len(facts))
                return {}

            register("always_one", "integer", "merchant", "a constant", compute)
            register("never_read", "integer", "merchant", "read by no rule", never)

    qcrules_plugin(Field(), name="batch-field")
    from qcrules.evaluation import EvaluateOptions
    from qcrules.workspace import Workspace

    workspace = Workspace.discover(demo / "qcrules.toml")
    service.evaluate(workspace, EvaluateOptions(store=False, packs=["ones"]))
    assert calls == [4]  # one call for the demo's four merchants
    assert unread == []  # no rule reads it: not computed


def broken_field_site(tmp_path: Path, *, with_pack: bool) -> Path:
    """The throwaway plugin with a field whose compute raises on every grant with sales."""
    site = tmp_path / "broken-field-site"
    module = PLUGIN_MODULE.replace(
        'return [(f.values.get("gmv_7d") or 0) / 7 * 1000 for f in facts]',
        "if any(f.values.get('gmv_7d') for f in facts):\n"
        "            raise RuntimeError('boom in field compute')\n"
        "        return [0.0 for f in facts]",
    )
    assert "boom in field compute" in module
    if not with_pack:
        module = module.replace('register(Path(__file__).parent / "packs")', "pass")
    make_distribution(
        site,
        "throwaway",
        "qcrules_throwaway",
        {"__init__.py": module, "packs/throwaway.toml": PLUGIN_PACK},
    )
    return site


def test_a_plugin_field_that_raises_is_a_clear_error_naming_the_plugin(cli, demo, tmp_path):
    site = broken_field_site(tmp_path, with_pack=True)
    result = cli("evaluate", "--no-store", "--pack", "throwaway", env=with_path(site), cwd=demo)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "plugin 'throwaway'" in result.stderr and "'gmv_per_day_7d'" in result.stderr
    assert "RuntimeError: boom in field compute" in result.stderr
    assert re.search(r"on grant \S+ \(merchant \S+\)", result.stderr), result.stderr
    assert "QCRULES_DISABLE_PLUGINS=throwaway" in result.stderr
    # the built-in packs do not read the field: they still evaluate
    builtins = cli(
        "evaluate",
        "--no-store",
        "--pack",
        "screening",
        "--format",
        "json",
        env=with_path(site),
        cwd=demo,
    )
    assert builtins.returncode in (0, 1), builtins.stderr
    assert json.loads(builtins.stdout)["run"]["packs"][0]["id"] == "screening"


def test_a_broken_field_no_rule_reads_does_not_block_the_builtins(cli, demo, tmp_path):
    site = broken_field_site(tmp_path, with_pack=False)
    result = cli("evaluate", "--format", "json", "--no-store", env=with_path(site), cwd=demo)
    assert result.returncode == 1, result.stderr  # the demo has error findings
    assert json.loads(result.stdout)["findings"]


def test_every_hook_is_documented_with_its_signature():
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    headings = dict(re.findall(r"^### (qcrules_\w+)\((.*)\)$", docs, flags=re.M))
    hooks = {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("qcrules_")
    }
    assert set(headings) == set(hooks), "docs/plugins.md must have one heading per hook"
    for name, fn in hooks.items():
        assert headings[name] == ", ".join(inspect.signature(fn).parameters), name


def test_docs_example_plugin_is_what_the_test_builds():
    """docs/plugins.md's five-minute plugin uses the same entry-point group as the tests."""
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert "[project.entry-points.qcrules]" in docs
    assert (
        textwrap.dedent("""\
        @hookimpl
        def qcrules_register_packs(register):""")
        in docs
    )


def test_applying_a_plugin_action_runs_its_handler(cli, demo, site, tmp_path):
    import shutil

    folder = tmp_path / "ws"
    shutil.copytree(demo, folder)
    outbox = tmp_path / "outbox.txt"
    config = folder / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'\n[plugins.throwaway]\noutbox = "{outbox}"\n',
        encoding="utf-8",
    )
    env = with_path(site)
    evaluated = cli("evaluate", "--pack", "throwaway", "--fail-on", "never", env=env, cwd=folder)
    assert evaluated.returncode == 0, evaluated.stderr
    items = json.loads(cli("actions", "list", "--format", "json", env=env, cwd=folder).stdout)
    target = items[0]
    assert target["action"]["kind"] == "tell_the_boss"

    dry = cli("actions", "apply", target["id"], "--dry-run", env=env, cwd=folder)
    assert dry.returncode == 0 and target["entity"]["id"] in dry.stdout
    assert not outbox.exists()  # the handler was told it was a dry run

    done = cli("actions", "apply", target["id"], "--format", "json", env=env, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["told"].startswith(target["entity"]["id"])
    assert outbox.read_text(encoding="utf-8").startswith(target["entity"]["id"])
    log = json.loads(cli("actions", "log", "--format", "json", env=env, cwd=folder).stdout)
    assert log[0]["kind"] == "apply:tell_the_boss"


@pytest.mark.parametrize("engine", ["durable-rules", "python"])
def test_a_plugin_field_giving_inf_is_a_clear_error_naming_the_entity(cli, demo, tmp_path, engine):
    if engine == "durable-rules" and ENGINE != "durable-rules":
        pytest.skip("durable-rules cannot load on this Python")
    site = tmp_path / "site"
    module = PLUGIN_MODULE.replace(
        'return [(f.values.get("gmv_7d") or 0) / 7 * 1000 for f in facts]',
        "return [float('inf') for f in facts]",
    )
    assert "float('inf')" in module
    make_distribution(
        site,
        "throwaway",
        "qcrules_throwaway",
        {"__init__.py": module, "packs/throwaway.toml": PLUGIN_PACK},
    )
    result = cli(
        "evaluate",
        "--no-store",
        "--pack",
        "throwaway",
        env=with_path(site, QCRULES_ENGINE=engine),
        cwd=demo,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "gmv_per_day_7d" in result.stderr and "not a finite number" in result.stderr
    assert "grant " in result.stderr  # names the entity the value was computed for
    assert "qcrules_register_fields" in result.stderr


def test_a_plugin_field_with_a_builtin_name_is_refused_and_the_plugin_named(cli, demo, tmp_path):
    site = tmp_path / "dup-site"
    module = PLUGIN_MODULE.replace(
        '    register("gmv_per_day_7d",',
        '    register("roi_7d", "number", "grant", "a second ROI", compute)\n'
        '    register("gmv_per_day_7d",',
    )
    assert 'register("roi_7d"' in module
    make_distribution(
        site,
        "dup",
        "qcrules_dup",
        {"__init__.py": module, "packs/throwaway.toml": PLUGIN_PACK},
    )
    env = with_path(site)
    said = "plugin 'dup' registers fact field 'roi_7d', which qcrules already defines"
    listed = cli("packs", "list", "--format", "json", env=env, cwd=demo)
    assert listed.returncode == 0, listed.stderr
    assert said in listed.stderr and "Traceback" not in listed.stderr
    assert "builtin'" not in listed.stderr  # the plugin is named, not the built-in
    # the plugin's other contributions load: its pack and its other field
    assert "throwaway" in {p["id"] for p in json.loads(listed.stdout)}
    fields = json.loads(cli("packs", "fields", "--format", "json", env=env, cwd=demo).stdout)
    sources = {(f["name"], f["entity"]): f["source"] for f in fields}
    assert sources[("roi_7d", "grant")] == "builtin"
    assert sources[("gmv_per_day_7d", "grant")] == "dup"
    result = cli("evaluate", "--format", "json", "--no-store", env=env, cwd=demo)
    assert result.returncode == 1, result.stderr  # the demo has error findings
    assert said in result.stderr and "Traceback" not in result.stderr
    assert "throwaway" in {p["id"] for p in json.loads(result.stdout)["run"]["packs"]}


def test_a_column_a_plugin_header_map_names_is_not_called_unknown(cli, tmp_path):
    site = tmp_path / "live-site"
    make_distribution(
        site,
        "live",
        "qcrules_live",
        {
            "__init__.py": "from qcrules import hookimpl\n\n@hookimpl\n"
            "def qcrules_register_importers(register):\n"
            "    register('metrics', 'compass-live', {'live_pay_ucnt': ['成交人数']})\n"
        },
    )
    ws = tmp_path / "ws"
    assert cli("init", str(ws)).returncode == 0
    files = {
        "merchants": "merchant_id,name,break_even_roi\nL1,直播旗舰店,2.0\n",
        "creators": "aweme_id,nickname\n2001,好物直播间\n",
        "grants": "grant_id,merchant_id,aweme_id,auth_type,scope,status,starts_at,ends_at\n"
        "LG1,L1,2001,cooperative,live_room,active,2025-05-01,2025-07-01\n",
        "metrics": "日期,商家ID,达人UID,授权ID,整体消耗(元),整体展示次数,整体点击次数,成交人数\n"
        "2025-06-01,L1,2001,LG1,1000,30000,1500,100\n",
    }
    env = with_path(site)
    for kind, text in files.items():
        (ws / f"{kind}.csv").write_text(text, encoding="utf-8")
        result = cli("import", kind, str(ws / f"{kind}.csv"), env=env, cwd=ws)
        assert result.returncode == 0, result.stderr
    assert "成交人数" in result.stdout + result.stderr  # kept, under the plugin's name
    assert "not known" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert "did you mean" not in result.stdout + result.stderr


def test_credentials_a_plugin_action_hands_back_are_masked_where_shown_and_audited(
    qcrules_plugin, demo, tmp_path
):
    """A plugin action that echoes its robot's webhook address or a token in its result had
    them printed in full and kept in the audit log, which the whole team reads. Masked by
    the rule that masks a 合作码: values under a credential's name, a token in a URL's
    query, and any credential from [plugins.*] found inside a text."""
    import shutil

    from qcrules.evaluation import EvaluateOptions
    from qcrules.workspace import Workspace

    hook = "https://open.feishu.cn/open-apis/bot/v2/hook/3f9a1c2e-77aa-4b1d-9e0f-5a6b7c8d9e0f"
    folder = tmp_path / "ws"
    shutil.copytree(demo, folder)
    config = folder / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'\n[plugins.chat]\nwebhook_url = "{hook}"\n',
        encoding="utf-8",
    )
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "chat.toml").write_text(
        PLUGIN_PACK.replace("tell_the_boss", "post_to_chat").replace("throwaway", "chat"),
        encoding="utf-8",
    )

    class Chat:
        @staticmethod
        def qcrules_register_packs(register):
            register(packs)

        @staticmethod
        def qcrules_register_fields(register):
            register(
                "gmv_per_day_7d", "number", "grant", "GMV per day over 7 days (x1000)",
                lambda facts, context: [(f.values.get("gmv_7d") or 0) / 7 * 1000 for f in facts],
            )  # fmt: skip

        @staticmethod
        def qcrules_register_actions(register):
            def post(action, context):
                url = context["config"]["chat"]["webhook_url"]
                return {
                    "posted_to": url,
                    "said": f"sent via {url} ok",
                    "access_token": "tok-9f8e7d6c5b4a",
                    "callback": "https://oapi.dingtalk.com/robot/send?access_token=abcdef987654&x=1",
                }

            register("post_to_chat", post, zh="发到群里", en="post to the chat")

    qcrules_plugin(Chat(), name="chat")
    workspace = Workspace.discover(config)
    try:
        service.evaluate(workspace, EvaluateOptions(packs=["chat"], fail_on="never"))
        item = next(i for i in service.action_queue(workspace) if i.kind == "post_to_chat")
        outcome = service.apply_action(workspace, item.ref)
        shown = json.dumps(outcome.to_json(), ensure_ascii=False)
        audited = json.dumps([e.to_json() for e in service.audit_log(workspace)])
        for text in (shown, audited):
            for secret in (
                "3f9a1c2e-77aa-4b1d-9e0f-5a6b7c8d9e0f",
                "tok-9f8e7d6c5b4a",
                "abcdef987654",
            ):
                assert secret not in text
        result = outcome.to_json()["result"]
        assert result["posted_to"] == "****9e0f"  # the configured credential itself
        assert result["said"] == "sent via ****9e0f ok"  # a configured credential in a text
        assert result["access_token"] == "****5b4a"
        assert result["callback"].endswith("?access_token=****7654&x=1")
    finally:
        workspace.close()
