"""The execute step in the Textual UI, driven as an operator drives it on a demo workspace:
the request form opened from a creator, its live verdicts as the fields change, the steps
checklist, saving (refused, then accepted), renewing an expiring grant, marking a grant
approved from the Grants tab — and a snapshot of the form at 80×24."""

from __future__ import annotations

import io
import sqlite3
from datetime import date, timedelta

import pytest
from rich.console import Console
from textual.widgets import Button, DataTable, Input, Select, SelectionList, Static

from conftest import settle_app
from qcrules import service
from qcrules.i18n import language
from qcrules.tui import QcrulesApp
from qcrules.tui.grant_form import GrantForm, MarkGrant
from qcrules.tui.widgets.creators import CreatorsTab
from qcrules.workspace import Workspace

TODAY = date(2026, 11, 27)  # the demo's day (conftest DEMO_DAY)
SMALL = (80, 24)

pytestmark = pytest.mark.usefixtures("english")  # conftest: English labels in every test


def shown(widget: Static) -> str:
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def grants_rows(workspace: Workspace, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(workspace.root / "qcrules.db") as conn:
        return conn.execute(sql, params).fetchall()


async def settled(app, pilot) -> None:
    """At least two waits and pauses: a field change starts the form's check worker only when
    its Changed message is handled."""
    await settle_app(app, pilot, rounds=2)


async def open_form_on(app, pilot, fact) -> GrantForm:
    await pilot.press("c")
    await pilot.pause()
    row = next(i for i, f in enumerate(app.query_one(CreatorsTab).shown) if f is fact)
    table = app.query_one("#creators-table", DataTable)
    table.move_cursor(row=row)
    table.focus()
    await pilot.press("n")
    await settled(app, pilot)
    assert isinstance(app.screen, GrantForm)
    return app.screen


async def test_the_form_from_a_creator_judges_live_and_saves(writable):
    app = QcrulesApp(writable, as_of=TODAY, today=TODAY)
    async with app.run_test(size=SMALL) as pilot:
        await settled(app, pilot)
        # a creator without a 合作码, in M1's pool
        fact = next(
            f
            for f in app.creator_facts
            if f.values.get("pool_status") == "in_pool" and not f.values["has_cooperation_code"]
        )
        form = await open_form_on(app, pilot, fact)
        # the safe defaults, pre-filled with the creator
        assert form.query_one("#merchant", Input).value == fact.merchant_id
        assert form.query_one("#creator", Input).value == fact.entity_id
        assert form.query_one("#auth", Select).value == "cooperative"
        assert form.query_one("#scope", Select).value == "single_video"
        assert form.query_one("#days", Input).value == "15"
        assert form.query_one("#channel", Select).value == "pc"
        verdicts = shown(form.query_one("#verdicts", Static))
        assert "Terms: pass" in verdicts and "Saves as draft" in verdicts
        assert "PRM011" in verdicts  # to do: the 合作码
        assert str(form.query_one("#save", Button).label) == "Save as draft"

        # scope → all works: the verdict changes while the form is open
        form.query_one("#scope", Select).value = "all_works"
        await settled(app, pilot)
        verdicts = shown(form.query_one("#verdicts", Static))
        assert "Terms: refused" in verdicts and "PRM004" in verdicts
        assert [v.rule for v in form.check.gates] == ["PRM004"]

        # the steps are a checklist; a tick survives a change of another field
        steps = form.query_one("#steps", SelectionList)
        assert steps.option_count == 6  # 4 PC steps, the confirmation, the agreement
        steps.focus()
        await pilot.pause()
        if steps.highlighted is None:
            await pilot.press("down")
        await pilot.press("space")
        await pilot.pause()
        assert form.ticked == {"pc-1"}
        assert "添加抖音号" in shown(form.query_one("#step-detail", Static))
        form.query_one("#days", Input).focus()
        await pilot.press("backspace", "backspace", *"45")
        await settled(app, pilot)
        assert {v.rule for v in form.check.gates} == {"PRM003", "PRM004"}
        assert form.ticked == {"pc-1"} and "pc-1" in steps.selected

        # saving a refused request writes nothing and says what to do
        before = grants_rows(writable, "select count(*) from grants")[0][0]
        await pilot.click("#save")
        await settled(app, pilot)
        assert isinstance(app.screen, GrantForm)
        assert "Refused (PRM003, PRM004)" in shown(form.query_one("#form-problem", Static))
        assert grants_rows(writable, "select count(*) from grants")[0][0] == before

        # safe terms and a 合作码: saved as requested, the code stored, shown masked
        form.query_one("#scope", Select).value = "live_room"
        form.query_one("#days", Input).value = "30"
        form.query_one("#code", Input).focus()
        await pilot.press(*"QC-CODE-77341")
        await settled(app, pilot)
        assert form.check.gates == [] and form.check.status == "requested"
        assert "****7341" in shown(form.query_one("#verdicts", Static))
        assert str(form.query_one("#save", Button).label) == "Save as requested"
        await pilot.press("ctrl+s")
        await settled(app, pilot)
        assert not isinstance(app.screen, GrantForm)
    rows = grants_rows(
        writable,
        "select grant_id, status, scope, starts_at, ends_at, auth_type from grants "
        "where aweme_id = ? and grant_id like 'Q%'",
        fact.entity_id,
    )
    assert rows == [
        (
            "Q20261127-1",
            "requested",
            "live_room",
            TODAY.isoformat(),
            (TODAY + timedelta(days=30)).isoformat(),
            "cooperative",
        )
    ]
    code = grants_rows(
        writable, "select cooperation_code from creators where aweme_id = ?", fact.entity_id
    )
    assert code == [("QC-CODE-77341",)]
    assert service.audit_log(writable)[0].kind == "grant:request"


async def test_accepting_the_risk_in_the_form_records_the_reason(writable):
    app = QcrulesApp(writable, as_of=TODAY, store=False)
    async with app.run_test(size=SMALL) as pilot:
        await settled(app, pilot)
        fact = app.creator_facts[0]
        form = await open_form_on(app, pilot, fact)
        form.query_one("#scope", Select).value = "all_works"
        await settled(app, pilot)
        form.query_one("#risk", Input).value = "brand asked, signed"
        await pilot.click("#save")
        await settled(app, pilot)
        assert not isinstance(app.screen, GrantForm)
    entry = service.audit_log(writable)[0]
    assert entry.kind == "grant:request" and entry.note == "brand asked, signed"
    (note,) = grants_rows(writable, "select note from grants where grant_id = ?", entry.entity.id)
    assert "PRM004" in note[0] and "brand asked, signed" in note[0]


async def test_the_form_says_a_creator_is_excluded_and_saves_only_with_a_reason(writable):
    """Screening no longer judges an excluded creator, so the form itself says the merchant
    excluded it from the pool: saving is refused (nothing written) until a reason to accept
    the risk is typed in, as for a risky term."""
    app = QcrulesApp(writable, as_of=TODAY, store=False)
    async with app.run_test(size=SMALL) as pilot:
        await settled(app, pilot)
        fact = next(f for f in app.creator_facts if f.values.get("pool_status") == "excluded")
        form = await open_form_on(app, pilot, fact)
        form.query_one("#scope", Select).value = "live_room"
        await settled(app, pilot)
        verdicts = shown(form.query_one("#verdicts", Static))
        assert "Pool: excluded" in verdicts
        assert f"creator {fact.entity_id} is excluded from {fact.merchant_id}'s pool" in verdicts
        assert form.check.gates == [] and form.check.refused
        before = grants_rows(writable, "select count(*) from grants")[0][0]
        await pilot.press("ctrl+s")
        await settled(app, pilot)
        assert isinstance(app.screen, GrantForm)
        assert "Refused (excluded from the pool)" in shown(form.query_one("#form-problem", Static))
        assert grants_rows(writable, "select count(*) from grants")[0][0] == before
        form.query_one("#risk", Input).value = "one test campaign, approved"
        await pilot.press("ctrl+s")
        await settled(app, pilot)
        assert not isinstance(app.screen, GrantForm)
    entry = service.audit_log(writable)[0]
    assert entry.kind == "grant:request" and entry.note == "one test campaign, approved"


async def test_renewal_prefills_the_form_and_mark_approved_from_the_grants_tab(writable):
    app = QcrulesApp(writable, as_of=TODAY, today=TODAY)
    async with app.run_test(size=(160, 45)) as pilot:
        await settled(app, pilot)
        await pilot.press("g")
        await pilot.pause()
        expiring = next(
            f
            for f in app.grant_facts
            if f.values["status"] == "active"
            and f.values["days_to_expiry"] is not None
            and 0 <= f.values["days_to_expiry"] <= 7
        )
        table = app.query_one("#grant-state-table", DataTable)
        table.move_cursor(row=app.grant_facts.index(expiring))
        table.focus()
        await pilot.press("w")
        await settled(app, pilot)
        form = app.screen
        assert isinstance(form, GrantForm) and form.initial.renewal_of == expiring.entity_id
        assert form.query_one("#creator", Input).value == expiring.aweme_id
        assert form.query_one("#scope", Select).value in ("single_video", "live_room")
        assert form.check.gates == []
        ends = date.fromisoformat(expiring.values["ends_at"])
        assert form.check.grant["starts_at"] == ends + timedelta(days=1)
        assert "Renew grant" in shown(form.query_one("#form-title", Static))
        form.query_one("#code", Input).value = "RN-CODE-1234"
        await settled(app, pilot)
        await pilot.press("ctrl+s")
        await settled(app, pilot)
        (renewal,) = grants_rows(
            writable,
            "select grant_id, status, renewal_of from grants where renewal_of = ?",
            expiring.entity_id,
        )
        assert renewal[1] == "requested"

        # mark it approved from the Grants tab (the table was refreshed by a new run)
        await pilot.press("g")
        await pilot.pause()
        fact = next(f for f in app.grant_facts if f.entity_id == renewal[0])
        table = app.query_one("#grant-state-table", DataTable)
        table.move_cursor(row=app.grant_facts.index(fact))
        table.focus()
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, MarkGrant)
        buttons = [str(b.label) for b in app.screen.query(Button)]
        assert buttons[:5] == ["approved", "active", "rejected", "revoked", "expired"]
        app.screen.query_one("#mark-note", Input).value = "confirmed in the app"
        await pilot.click("#to-approved")
        await settled(app, pilot)
    (row,) = grants_rows(writable, "select status from grants where grant_id = ?", renewal[0])
    assert row == ("active",)
    entry = service.audit_log(writable)[0]
    assert entry.kind == "grant:approved" and entry.note == "confirmed in the app"
    service.undo(writable)  # and it is taken back like any change
    (row,) = grants_rows(writable, "select status from grants where grant_id = ?", renewal[0])
    assert row == ("requested",)


async def test_grant_keys_act_only_on_their_tabs(writable):
    app = QcrulesApp(writable, as_of=TODAY, store=False)
    async with app.run_test(size=SMALL) as pilot:
        await settled(app, pilot)
        await pilot.press("f", "n", "w", "s")  # on Findings: none of them
        await pilot.pause()
        assert not isinstance(app.screen, GrantForm | MarkGrant)
        await pilot.press("g")
        await pilot.pause()
        terminal = next(i for i, f in enumerate(app.grant_facts) if f.values["status"] == "revoked")
        app.query_one("#grant-state-table", DataTable).move_cursor(row=terminal)
        await pilot.press("s")  # a final state: told so, no dialog
        await pilot.pause()
        assert not isinstance(app.screen, MarkGrant)
        await pilot.press("n")
        await settled(app, pilot)
        assert isinstance(app.screen, GrantForm)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, GrantForm)


def test_grant_form_snapshot(snap_compare, demo_folder):
    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    app = QcrulesApp(workspace, as_of=TODAY, store=False, today=TODAY)

    async def open_form(pilot) -> None:
        await settled(app, pilot)
        app.clear_notifications()
        await pilot.press("c", "n")
        await settled(app, pilot)

    try:
        assert snap_compare(app, terminal_size=SMALL, run_before=open_form)
    finally:
        workspace.close()


async def on_an_active_grant(app, pilot, also=lambda fact: True) -> tuple:
    """The Grants tab with the first active grant selected (of those `also` accepts): (its
    fact, its row, the table)."""
    await settled(app, pilot)
    await pilot.press("g")
    await pilot.pause()
    fact = next(f for f in app.grant_facts if f.values["status"] == "active" and also(f))
    row = app.grant_facts.index(fact)
    table = app.query_one("#grant-state-table", DataTable)
    table.move_cursor(row=row)
    table.focus()
    await pilot.pause()
    return fact, row, table


async def test_hold_a_grant_from_the_grants_tab_shows_at_once_and_undo_releases_it(writable):
    """`h` on the Grants tab holds the selected grant through the audited service call; the
    status column and the detail say so without a new evaluation, and `u` takes it back."""
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=(160, 45)) as pilot:
        fact, row, table = await on_an_active_grant(app, pilot)
        await pilot.press("h")
        await pilot.pause()
        await pilot.press("enter")  # a hold needs a reason: the dialog stays
        await pilot.pause()
        assert app.screen.query_one("#problem", Static).content
        app.clear_notifications()
        await pilot.press(*"creator on leave", "enter")
        await settled(app, pilot)
        said = [n.message for n in app._notifications]
        assert f"hold grant {fact.entity_id} (reason: creator on leave)" in said  # said once
        assert "⏸" in str(table.get_row_at(row)[3])
        assert "On hold until released: creator on leave" in shown(
            app.query_one("#grant-state-detail", Static)
        )
        (hold,) = grants_rows(writable, "select entity_type, entity_id, reason from holds")
        assert hold == ("grant", fact.entity_id, "creator on leave")
        assert service.audit_log(writable)[0].kind == "hold"

        await pilot.press("u")
        await pilot.pause()
        dialog = app.screen
        assert shown(dialog.query_one("#title", Static)).strip() == "Undo “hold”?"
        assert f"grant {fact.entity_id}, by " in shown(dialog.query_one("#preview", Static))
        await pilot.press("enter")
        await settled(app, pilot)
        assert "⏸" not in str(table.get_row_at(row)[3])
        assert "On hold" not in shown(app.query_one("#grant-state-detail", Static))
        assert grants_rows(writable, "select * from holds") == []


async def test_detail_panes_show_field_labels_and_formatted_values_in_zh(writable, monkeypatch):
    """zh throughout: the grant detail names fields by their 千川 labels and shows states,
    scopes and yes/no in words, not `status = active`."""
    monkeypatch.setenv("QCRULES_LANG", "zh")
    language.cache_clear()
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=(160, 45)) as pilot:
        fact, _, _ = await on_an_active_grant(app, pilot)
        text = shown(app.query_one("#grant-state-detail", Static))
        assert "授权状态  生效中" in text and "status = " not in text
        assert ("已签授权协议  是" in text) or ("已签授权协议  否" in text)
        days = fact.values["days_to_expiry"]
        if days is not None:
            assert f"距到期天数  {days} 天" in text


async def test_a_new_evaluation_keeps_each_cursor_on_its_grant_and_finding(workspace):
    """Renewing or marking a grant evaluates again: the next key must act on the grant the
    operator was on, not on the first row (found by testing as an operator: after `r` the
    cursor went to row 0 and `s` opened a mark on another grant)."""
    from qcrules.tui.widgets.findings import FindingsTab
    from qcrules.tui.widgets.paged import PagedTable

    app = QcrulesApp(workspace, as_of=TODAY, store=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle_app(app, pilot)
        findings = app.query_one("#findings-table", PagedTable)
        findings.focus()
        for _ in range(5):
            await pilot.press("down")
        chosen = app.query_one(FindingsTab).shown[findings.cursor_row].fingerprint
        await pilot.press("g")
        await settle_app(app, pilot)
        grants = app.query_one("#grant-state-table", PagedTable)
        grants.focus()
        for _ in range(7):
            await pilot.press("down")
        grant = app.grant_facts[grants.cursor_row].entity_id
        await pilot.press("r")
        await settle_app(app, pilot)
        assert grants.cursor_row == 7 and app.grant_facts[7].entity_id == grant
        await pilot.press("f")
        await settle_app(app, pilot)
        assert findings.cursor_row == 5
        assert app.query_one(FindingsTab).shown[5].fingerprint == chosen


async def test_undo_puts_the_creator_and_grant_rows_back_at_once(writable):
    """An undo changes records as an apply does: the Creators and Grants tabs show the
    restored pool status and grant state at once, not after `r` (they kept the undone one)."""
    from qcrules.tui.present import POOL_LABEL, STATUS_LABEL, label
    from qcrules.tui.screens import ConfirmChange
    from qcrules.tui.widgets.findings import FindingsTab
    from qcrules.tui.widgets.paged import PagedTable

    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle_app(app, pilot)
        await pilot.press("c")
        await settle_app(app, pilot)
        creators = app.query_one("#creators-table", PagedTable)
        creators.focus()
        fact = app.query_one(CreatorsTab).selected()
        before = fact.values["pool_status"]
        await pilot.press("X", *"fake fans", "enter")
        await settle_app(app, pilot)
        assert str(creators.get_row_at(creators.cursor_row)[3]) == label(POOL_LABEL, "excluded")
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmChange)
        await pilot.press("enter")
        await settle_app(app, pilot)
        assert fact.values["pool_status"] == before
        assert str(creators.get_row_at(creators.cursor_row)[3]) == label(POOL_LABEL, before)

        await pilot.press("f")  # revoke the demo's self-operated grant, then undo it
        await settle_app(app, pilot)
        shown = app.query_one(FindingsTab).shown
        row = next(i for i, f in enumerate(shown) if f.rule == "PRM001")
        grant = shown[row].subject.id
        findings = app.query_one("#findings-table", PagedTable)
        findings.focus()
        findings.move_cursor(row=row)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("enter")
        await settle_app(app, pilot)
        grants = app.query_one("#grant-state-table", PagedTable)
        at = next(i for i, f in enumerate(app.grant_facts) if f.entity_id == grant)
        revoked = label(STATUS_LABEL, "revoked")
        assert str(grants.get_row_at(at)[3]).startswith(revoked)
        said = [n.message for n in app._notifications][-1]  # the toast speaks of the grant
        assert f"grant {grant}: active → revoked" in said and "revoke" in said.lower()
        assert "status:" not in said and "revoke_grant" not in said and "=" not in said
        await pilot.press("u")
        await pilot.pause()
        await pilot.press("enter")
        await settle_app(app, pilot)
        assert app.grant_facts[at].values["status"] == "active"
        assert str(grants.get_row_at(at)[3]).startswith(label(STATUS_LABEL, "active"))


async def test_a_signed_agreement_is_recorded_from_the_grants_tab_and_closes_prm009(writable):
    """`A` on the Grants tab records that the selected grant's agreement is signed (what PRM009
    asks for), after showing the change: the detail says so at once, PRM009 leaves the row and
    the findings after the evaluation that follows, `u` takes it back; a grant it does not
    apply to is refused in the service's words, and no dialog asks for a note first."""
    from qcrules.tui.screens import ConfirmChange

    with sqlite3.connect(writable.root / "qcrules.db") as conn:  # a revoked one never signed
        conn.execute(
            "update grants set has_agreement = 0 where grant_id = "
            "(select min(grant_id) from grants where status = 'revoked')"
        )
    app = QcrulesApp(writable, as_of=TODAY)
    async with app.run_test(size=(160, 45)) as pilot:
        await settled(app, pilot)
        await pilot.press("g")
        await settled(app, pilot)
        # listed where the other grant keys are: the key bar's keys, the help, the palette
        active = app.screen.active_bindings.get("A")
        assert active is not None and active.enabled and active.binding.show
        await pilot.press("question_mark")
        await pilot.pause()
        rows = {what: (keys, where) for keys, what, where in app.screen.rows}
        assert rows["Agreement signed"] == ("A", "Grants")
        await pilot.press("escape")
        await pilot.pause()
        palette = {text: help_text for text, _, help_text in app.palette_entries()}
        assert "(A)" in palette["grant: agreement signed"]
        fact = next(
            f
            for f in app.grant_facts
            if any(x.rule == "PRM009" for x in app.findings_of("grant", f.entity_id, None))
        )
        grant_id = fact.entity_id
        table = app.query_one("#grant-state-table", DataTable)
        table.move_cursor(row=app.grant_facts.index(fact))
        table.focus()
        await pilot.press("A")
        await settled(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmChange)
        assert f"grant {grant_id}: agreement not signed → signed" in shown(
            dialog.query_one("#preview", Static)
        )
        assert grants_rows(  # shown, not yet written
            writable, "select has_agreement from grants where grant_id = ?", grant_id
        ) == [(0,)]
        await pilot.press(*"stamped copy on the share", "enter")
        await settled(app, pilot)
        assert not isinstance(app.screen, ConfirmChange)
        assert grants_rows(
            writable, "select has_agreement from grants where grant_id = ?", grant_id
        ) == [(1,)]
        entry = service.audit_log(writable)[0]
        assert entry.kind == "grant:signed" and entry.note == "stamped copy on the share"
        # the evaluation that followed: PRM009 gone from the grant's findings and its row
        row = next(i for i, f in enumerate(app.grant_facts) if f.entity_id == grant_id)
        assert table.cursor_row == row
        assert not any(x.rule == "PRM009" for x in app.findings_of("grant", grant_id, None))
        assert not any(f.rule == "PRM009" and f.subject.id == grant_id for f in app.report.findings)
        detail = shown(app.query_one("#grant-state-detail", Static))
        assert "has_agreement  yes" in detail and "PRM009" not in detail
        assert "agreement" in [n.message for n in app._notifications][-2]

        # again: refused in the service's words, before any dialog
        app.clear_notifications()
        await pilot.press("A")
        await settled(app, pilot)
        assert not isinstance(app.screen, ConfirmChange)
        assert "already has its agreement" in [n.message for n in app._notifications][-1]
        # a revoked grant: an agreement no longer applies
        revoked = next(
            f
            for f in app.grant_facts
            if f.values["status"] == "revoked" and not f.values["has_agreement"]
        )
        table.move_cursor(row=app.grant_facts.index(revoked))
        await pilot.pause()
        await pilot.press("A")
        await settled(app, pilot)
        assert not isinstance(app.screen, ConfirmChange)
        assert "no longer applies" in [n.message for n in app._notifications][-1]

        # undo, in the words of the change
        table.move_cursor(row=row)
        await pilot.press("u")
        await pilot.pause()
        dialog = app.screen
        title = shown(dialog.query_one("#title", Static)).strip()
        assert title == "Undo “record the agreement signed”?"
        await pilot.press("enter")
        await settled(app, pilot)
        assert grants_rows(
            writable, "select has_agreement from grants where grant_id = ?", grant_id
        ) == [(0,)]
        assert "has_agreement  no" in shown(app.query_one("#grant-state-detail", Static))
        # and the evaluation that follows an undone grant write brings PRM009 back
        assert any(f.rule == "PRM009" and f.subject.id == grant_id for f in app.report.findings)
        assert any(x.rule == "PRM009" for x in app.findings_of("grant", grant_id, None))


async def test_looking_back_with_as_of_never_backdates_a_grant_write(writable):
    """`qcrules tui --as-of <past day>` judges that day; a revoke marked there happened today
    (it dated the grant's end to the past day, as if it ended days before it was revoked)."""
    app = QcrulesApp(writable, as_of=TODAY)  # no fixed clock: today is the machine's
    async with app.run_test(size=(160, 45)) as pilot:
        fact, _, _ = await on_an_active_grant(
            app, pilot, lambda f: (f.values["ends_at"] or "") > date.today().isoformat()
        )  # one that runs past today
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, MarkGrant)
        await pilot.click("#to-revoked")
        await settled(app, pilot)
    (row,) = grants_rows(
        writable, "select status, ends_at from grants where grant_id = ?", fact.entity_id
    )
    assert row[0] == "revoked" and str(row[1])[:10] == date.today().isoformat()
