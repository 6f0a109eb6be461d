"""Keys, help, palette and user settings: what the operator can press, where it works, and
the [tui] theme and [tui.keys] of qcrules.toml. The help screen and the palette are built
from the bindings, so a remapped key shows as remapped everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.widgets import Input, TabbedContent

from qcrules import service
from qcrules.i18n import did_you_mean, tr
from qcrules.tui.keys import said
from qcrules.tui.screens import HelpScreen
from qcrules.tui.widgets.actions import ActionsPane
from qcrules.tui.widgets.creators import CreatorsTab
from qcrules.tui.widgets.findings import FindingsTab
from qcrules.tui.widgets.grants import GrantsTab
from qcrules.tui.widgets.packs import PacksTab

if TYPE_CHECKING:
    from qcrules.tui.app import QcrulesApp

    _Base = QcrulesApp
else:
    _Base = object

# the tabs where a key's action applies (any other action works on every tab)
ACTION_TABS: dict[str, tuple[str, ...]] = {
    "apply": ("findings", "actions"),
    "dismiss": ("findings", "actions"),
    "hold": ("findings", "actions", "grants"),
    "explain": ("findings",),
    "cycle_level": ("findings",),
    "sort_next": ("findings",),
    "sort_reverse": ("findings",),
    "pool": ("creators",),
    "request_grant": ("creators", "grants"),
    "renew_grant": ("grants",),
    "mark_grant": ("grants",),
    "sign_grant": ("grants",),
}
TAB_NAMES = {
    "dashboard": ("概览", "Dashboard"),
    "findings": ("发现", "Findings"),
    "actions": ("动作", "Actions"),
    "creators": ("达人池", "Creators"),
    "grants": ("授权", "Grants"),
    "monitoring": ("效果监测", "Monitoring"),
    "packs": ("规则包", "Packs"),
}
# the filter box and the table of each tab that has one
FILTERS: dict[str, tuple[str, str]] = {
    "findings": ("#filter", "#findings-table"),
    "creators": ("#creator-filter", "#creators-table"),
    "actions": ("#actions-filter", "#actions-table"),
}
# the widget that takes the focus when a tab is shown
FOCUS = {
    "findings": "#findings-table",
    "actions": "#actions-table",
    "packs": "#rules-table",
    "monitoring": "#grants-table",
    "creators": "#creators-table",
    "grants": "#grant-state-table",
    "dashboard": "#dashboard-body",
}
# (zh, en, help zh, help en) of each palette command, by action; the key is added from the
# bindings in effect
PALETTE: dict[str, tuple[str, str, str, str]] = {
    "evaluate": ("评估：立即运行", "evaluate: now", "重新评估所有规则", "run every rule"),
    "explain": ("发现：解释所选", "finding: explain", "规则为何触发", "why it fired"),
    "apply": ("动作：执行所选", "action: apply", "先预览改动", "shows the change first"),
    "dismiss": ("动作：忽略所选", "action: dismiss", "需写明原因", "with a reason"),
    "hold": ("动作：暂停该对象", "action: hold", "需写明原因", "with a reason"),
    "undo": ("动作：撤销上一次", "action: undo", "按审计日志撤销", "from the audit log"),
    "focus_filter": ("发现：筛选", "findings: filter", "", ""),
    "cycle_level": ("发现：切换级别", "findings: next level", "", ""),
    "show_tab('dashboard')": ("视图：概览", "view: dashboard", "", ""),
    "show_tab('findings')": ("视图：发现", "view: findings", "", ""),
    "show_tab('actions')": ("视图：动作队列", "view: actions", "", ""),
    "bulk_apply": (
        "动作：批量执行所筛选的",
        "actions: apply all shown",
        "先列出全部改动，全部成功或全部不做",
        "lists every change; all or nothing",
    ),
    "show_tab('creators')": ("视图：达人池", "view: creators", "", ""),
    "show_tab('grants')": ("视图：授权", "view: grants", "", ""),
    "show_tab('monitoring')": ("视图：效果监测", "view: monitoring", "", ""),
    "pool('in_pool')": ("达人：加入达人池", "creator: add to pool", "", ""),
    "pool('candidate')": ("达人：移出达人池", "creator: remove from pool", "", ""),
    "pool('excluded')": ("达人：排除", "creator: exclude", "", ""),
    "request_grant": (
        "授权：发起授权",
        "grant: request",
        "安全默认值，实时规则检查",
        "safe defaults, live rule checks",
    ),
    "renew_grant": ("授权：续期", "grant: renew", "预填续期表单", "pre-filled form"),
    "mark_grant": ("授权：改状态", "grant: mark", "已通过、生效、撤销…", "approved, …"),
    "sign_grant": (
        "授权：记录协议已签",
        "grant: agreement signed",
        "双方签署授权协议后（关闭 PRM009）",
        "once both sides signed (closes PRM009)",
    ),
    "show_tab('packs')": ("视图：规则包", "view: packs", "", ""),
    "test_packs": ("规则包：运行包内测试", "packs: test", "", ""),
    "help": ("帮助：全部按键", "help: every key", "", ""),
}


class QcrulesCommands(Provider):
    """Command palette entries: every key binding's action, searchable by its zh/en name,
    listed with its key as soon as the palette opens."""

    async def discover(self) -> Hits:
        app: Any = self.app
        for text, action, help_text in app.palette_entries():
            yield DiscoveryHit(text, app.action_runner(action), help=help_text)

    async def search(self, query: str) -> Hits:
        app: Any = self.app
        matcher = self.matcher(query)
        for text, action, help_text in app.palette_entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), app.action_runner(action), help=help_text)


# Textual's own palette commands, in the words of the zh UI (title, help)
SYSTEM_COMMANDS_ZH = {
    "Theme": ("主题", "更换配色主题"),
    "Quit": ("退出", "立即退出"),
    "Keys": ("按键面板", "显示或隐藏当前部件的按键说明"),
    "Minimize": ("还原", "把放大的部件还原"),
    "Maximize": ("放大", "放大当前部件"),
    "Screenshot": ("截图", "把当前屏幕保存为 SVG 图片"),
}


class KeysMixin(_Base):
    """Keys routed to the tab in view, help, palette and settings of `QcrulesApp`."""

    def get_system_commands(self, screen: Any) -> Iterator[Any]:
        """Textual's palette commands (theme, quit, keys, screenshot), in Chinese in zh."""
        for command in super().get_system_commands(screen):  # type: ignore[misc]
            zh = SYSTEM_COMMANDS_ZH.get(command.title)
            if zh is not None:
                command = command._replace(
                    title=tr(zh[0], command.title), help=tr(zh[1], command.help)
                )
            yield command

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys act on the tab in view: finding keys on Findings, pool keys on Creators."""
        if action not in ACTION_TABS:
            return True
        tabs = self.screen.query_one_optional(TabbedContent)  # under a dialog: every key
        return tabs is None or tabs.active in ACTION_TABS[action]

    def help_rows(self) -> list[tuple[str, str, str]]:
        """(keys, what, where) for every binding of the app and of its tabs' widgets."""
        everywhere = tr("所有标签页", "every tab")
        rows = []
        for binding in self.BINDINGS:
            tabs = ACTION_TABS.get(binding.action.split("(")[0])
            where = tr("、", ", ").join(tr(*TAB_NAMES[t]) for t in tabs) if tabs else everywhere
            rows.append((self._keys(binding), said(binding), where))
        for binding in ActionsPane.BINDINGS:
            rows.append((self._keys(binding), said(binding), tr(*TAB_NAMES["actions"])))
        rows.append(("ctrl+p", tr("命令面板", "Command palette"), everywhere))
        return rows

    def _keys(self, binding: Binding) -> str:
        remapped = getattr(self, "user_keys", {}).get(binding.id or "")
        keys = [k.strip() for k in (remapped or binding.key).split(",")]
        return " / ".join(self.get_key_display(Binding(k, binding.action)) for k in keys)

    def binding_ids(self) -> set[str]:
        """Every binding id a user may remap in [tui.keys]."""
        bindings = [*self.BINDINGS, *ActionsPane.BINDINGS]
        return {b.id for b in bindings if isinstance(b, Binding) and b.id}

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_rows()))

    def palette_entries(self) -> list[tuple[str, str, str]]:
        """(name, action, help) for the palette; the help ends with the action's key (no
        square brackets: the palette reads help as markup)."""
        keys = {b.action: self._keys(b) for b in [*self.BINDINGS, *ActionsPane.BINDINGS]}
        entries = []
        for action, (zh, en, help_zh, help_en) in PALETTE.items():
            help_text, key = tr(help_zh, help_en), keys.get(action)
            if key:
                help_text = f"{help_text}  ({key})" if help_text else f"({key})"
            entries.append((tr(zh, en), action, help_text))
        return entries

    def action_runner(self, action: str):
        async def run() -> None:
            if self.held_action(action):  # type: ignore[attr-defined]  # during the launch
                return
            name = action.split("(")[0]
            if self.check_action(name, ()) is False:  # picked from the palette elsewhere
                where = tr("、", ", ").join(tr(*TAB_NAMES[t]) for t in ACTION_TABS[name])
                self.notify(
                    tr(
                        f"这条命令在「{where}」标签页上用", f"this command works on the {where} tab"
                    ),
                    severity="warning",
                )
                return
            await self.run_action(action)

        return run

    # -- keys routed to the tab in view --------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        # focus follows the tab: a focused widget in a hidden tab would bring its tab back
        self.query_one(FOCUS[tab]).focus()

    def action_focus_filter(self) -> None:
        """`/` filters the tab in view; on a tab without a filter, the findings."""
        active = self.active_tab()
        if active not in FILTERS:
            self.action_show_tab("findings")
            active = "findings"
        self.query_one(FILTERS[active][0], Input).focus()

    def action_clear_filter(self) -> None:
        """Esc empties the filter of the tab in view and returns to its table."""
        active = self.active_tab()
        if active not in FILTERS:
            return
        box_id, table_id = FILTERS[active]
        self.query_one(box_id, Input).value = ""
        if active == "findings":
            self.query_one(FindingsTab).clear_level()
        self.query_one(table_id).focus()

    def action_cycle_level(self) -> None:
        self.query_one(FindingsTab).cycle_level()

    def action_sort_next(self) -> None:
        self.query_one(FindingsTab).sort_next()

    def action_sort_reverse(self) -> None:
        self.query_one(FindingsTab).reverse()

    def action_explain(self) -> None:
        self.query_one(FindingsTab).explain()

    def action_pool(self, status: str) -> None:
        self.query_one(CreatorsTab).ask_pool(status)

    def action_request_grant(self) -> None:
        """The request form, pre-filled with the selected creator (or grant's pair)."""
        from qcrules.service import GrantRequest

        if self.active_tab() == "creators":
            fact = self.query_one(CreatorsTab).selected()
        else:
            fact = self.query_one(GrantsTab).selected()
        merchant = (fact.merchant_id or "") if fact is not None else ""
        aweme = (fact.aweme_id or "") if fact is not None else ""
        self.query_one(GrantsTab).open_form(GrantRequest(merchant, aweme))

    def action_renew_grant(self) -> None:
        self.query_one(GrantsTab).renew()

    def action_mark_grant(self) -> None:
        self.query_one(GrantsTab).mark()

    def action_sign_grant(self) -> None:
        self.query_one(GrantsTab).sign()

    def action_test_packs(self) -> None:
        self.action_show_tab("packs")
        self.query_one(PacksTab).run_tests()

    def action_save_whatif(self) -> None:
        self.query_one(PacksTab).save_whatif()

    def action_bulk_apply(self) -> None:
        """From the palette: the Actions tab's bulk apply of the open actions it shows."""
        self.action_show_tab("actions")
        self.query_one(ActionsPane).action_bulk_apply()

    def _apply_user_settings(self) -> None:
        """[tui] theme and [tui.keys] from qcrules.toml; a wrong name is a warning, not a
        crash, and the theme chosen later (palette: "Change theme") is kept there."""
        config = self.workspace.config
        self.setting_warnings: list[str] = []
        if config.tui_theme:
            if config.tui_theme in self.available_themes:
                self.theme = config.tui_theme
            else:
                self._setting_warning(
                    tr(
                        f"qcrules.toml 的 [tui] theme = {config.tui_theme!r} 不是已知主题",
                        f"[tui] theme = {config.tui_theme!r} in qcrules.toml is not a theme",
                    )
                    + did_you_mean(config.tui_theme, self.available_themes)
                )
        known = self.binding_ids()
        keymap = {}
        for binding_id, keys in config.tui_keys.items():
            if binding_id in known:
                keymap[binding_id] = keys
                continue
            self._setting_warning(
                tr(
                    f"[tui.keys] 里的 {binding_id!r} 不是按键编号（已忽略）",
                    f"[tui.keys] {binding_id!r} is not a key binding id (ignored)",
                )
                + did_you_mean(binding_id, sorted(known))
            )
        self.user_keys = keymap  # help and the palette show these keys
        if keymap:
            self.set_keymap(keymap)
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _setting_warning(self, message: str) -> None:
        self.setting_warnings.append(message)
        self.notify(message, severity="warning", timeout=30)  # read before it goes

    def _theme_changed(self, theme: Any) -> None:
        from qcrules.errors import QcrulesError

        if theme.name == self.workspace.config.tui_theme:
            return
        try:
            service.save_tui_theme(self.workspace, theme.name)
        except QcrulesError as exc:
            self.notify(exc.message, severity="warning")
