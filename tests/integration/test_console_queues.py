"""Queues in the console: the JSON document edited and validated in place, audited."""

from __future__ import annotations

import json
import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from infra.account_models import AuditEntry
from infra.db import Database
from services.queue_documents import export_queue
from services.queues import get_queue
from tests.integration.helpers import slots
from tests.integration.test_console_access import SignedIn, csrf, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures


def document_on(html: str) -> dict[str, object]:
    found = re.search(r'<textarea id="document" name="document"[^>]*>(.*?)</textarea>', html, re.S)
    assert found, html[:300]
    import html as html_module

    loaded: dict[str, object] = json.loads(html_module.unescape(found.group(1)))
    return loaded


def test_a_supervisor_edits_a_queue_and_the_slots_follow(
    signed_in: SignedIn, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    supervisor = signed_in("supervisor")
    document = document_on(supervisor.get("/console/queues/support").get_data(as_text=True))
    assert document["key"] == "support"
    for day in document["weekly_hours"]:  # type: ignore[attr-defined]
        day["capacity"] = 3
    saved = supervisor.post(
        "/console/queues",
        data={"csrf_token": csrf(supervisor, "/console/"), "key": "support", "document": json.dumps(document)},
    )
    assert saved.status_code == 303
    assert {s["seats_left"] for s in slots(client, days=1)} == {3}
    with db.read() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.target, entry.actor) == ("queue.update", "support", "supervisor@example.com")
    assert entry.before is not None and entry.after is not None
    assert entry.before["weekly_hours"][0]["capacity"] == 2 and entry.after["weekly_hours"][0]["capacity"] == 3


def test_a_bad_document_is_not_saved_and_says_which_field(
    signed_in: SignedIn, client: FlaskClient, demo_queue: str
) -> None:
    supervisor = signed_in("supervisor")
    token = csrf(supervisor, "/console/")
    document = document_on(supervisor.get("/console/queues/support").get_data(as_text=True))
    bad = supervisor.post(
        "/console/queues",
        data={"csrf_token": token, "key": "support", "document": json.dumps({**document, "timezone": "Mars/Base"})},
    )
    assert bad.status_code == 422 and "<code>timezone</code>" in bad.get_data(as_text=True)
    broken = supervisor.post("/console/queues", data={"csrf_token": token, "key": "support", "document": "{"})
    assert broken.status_code == 422 and "not valid JSON" in broken.get_data(as_text=True)
    renamed = supervisor.post(
        "/console/queues",
        data={"csrf_token": token, "key": "support", "document": json.dumps({**document, "key": "x"})},
    )
    assert renamed.status_code == 422 and "cannot change" in renamed.get_data(as_text=True)
    assert client.get("/api/v1/queues/support").get_json()["timezone"] == "Europe/London"


def test_a_new_queue_from_the_template(signed_in: SignedIn, client: FlaskClient, demo_queue: str) -> None:
    supervisor = signed_in("supervisor")
    document = document_on(supervisor.get("/console/queues/new").get_data(as_text=True))
    document.update(key="sales", name="Sales")
    token = csrf(supervisor, "/console/")
    made = supervisor.post("/console/queues", data={"csrf_token": token, "document": json.dumps(document)})
    assert made.status_code == 303 and made.headers["Location"].startswith("/console/queues/sales")
    assert client.get("/api/v1/queues/sales").get_json()["name"] == "Sales"
    again = supervisor.post("/console/queues", data={"csrf_token": token, "document": json.dumps(document)})
    assert again.status_code == 422 and "exists already" in again.get_data(as_text=True)


def test_a_viewer_reads_the_document_without_a_form(signed_in: SignedIn, demo_queue: str) -> None:
    html = signed_in("viewer").get("/console/queues/support").get_data(as_text=True)
    assert "&#34;key&#34;: &#34;support&#34;" in html or "&quot;key&quot;: &quot;support&quot;" in html
    assert "<textarea" not in html


def test_seats_follow_staffing_and_the_document_keeps_it(
    signed_in: SignedIn, client: FlaskClient, demo_queue: str
) -> None:
    """A supervisor gives Friday's staffing instead of seats: 3 agents, half of their time
    for callbacks, 300 s a call: 3 x 900 x 0.5 / 300 = 4 seats a slot; more agents, more seats."""
    supervisor = signed_in("supervisor")
    token = csrf(supervisor, "/console/")
    document = document_on(supervisor.get("/console/queues/support").get_data(as_text=True))
    friday = {"weekday": "friday", "opens": "09:00", "closes": "17:00", "slot_minutes": 15}
    for agents, seats in ((3, 4), (6, 9)):
        weekly = [h for h in document["weekly_hours"] if h["weekday"] != "friday"]  # type: ignore[attr-defined]
        document.update(
            weekly_hours=[*weekly, {**friday, "agents": agents, "callback_percent": 50}], average_handle_seconds=300
        )
        saved = supervisor.post(
            "/console/queues", data={"csrf_token": token, "key": "support", "document": json.dumps(document)}
        )
        assert saved.status_code == 303
        assert {s["seats_left"] for s in slots(client, **{"from": "2027-01-08", "days": 1})} == {seats}
    shown = document_on(supervisor.get("/console/queues/support").get_data(as_text=True))
    [exported] = [h for h in shown["weekly_hours"] if h["weekday"] == "friday"]  # type: ignore[attr-defined]
    assert exported == {**friday, "agents": 6, "callback_percent": 50}


def _hours_form(html: str) -> dict[str, str]:
    """The hours page's form as a browser would send it unchanged (inputs and selected options)."""
    import html as html_module

    form: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        form[name] = html_module.unescape(value)
    for name, options in re.findall(r'<select[^>]*? name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        # An option sends its value (its label when it has none): the first, unless one is selected.
        listed = re.findall(r"<option([^>]*)>([^<]*)</option>", options)
        sent = [(re.search(r'value="([^"]*)"', attrs), label) for attrs, label in listed]
        values = [html_module.unescape(value.group(1)) if value else label for value, label in sent]
        chosen = [v for v, (attrs, _label) in zip(values, listed, strict=True) if re.search(r"\bselected\b", attrs)]
        form[name] = chosen[0] if chosen else values[0]
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" value="yes" checked', html):
        form[name] = "yes"
    return form


def test_weekly_hours_and_a_holiday_by_form(
    signed_in: SignedIn, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    supervisor = signed_in("supervisor")
    page = supervisor.get("/console/queues/support/hours").get_data(as_text=True)
    form = _hours_form(page)
    assert form["w-4-weekday"] == "friday" and form["w-4-capacity"] == "2"
    # Friday from staffing, a Saturday morning added in a blank row, Tuesday 5 January closed.
    form.update({"w-4-capacity": "", "w-4-agents": "3", "w-4-callback_percent": "50"})
    form.update(
        {
            "w-5-weekday": "saturday",
            "w-5-opens": "09:00",
            "w-5-closes": "12:00",
            "w-5-slot_minutes": "30",
            "w-5-capacity": "1",
        }
    )
    form.update({"o-0-date": "2027-01-05", "o-0-closed": "yes", "o-0-note": "Staff training"})
    saved = supervisor.post("/console/queues/support/hours", data=form)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert slots(client, **{"from": "2027-01-05", "days": 1}) == []
    assert {s["seats_left"] for s in slots(client, **{"from": "2027-01-08", "days": 1})} == {
        5
    }  # 3 x 900 x .5 / 240 = 5.6
    assert len(slots(client, **{"from": "2027-01-09", "days": 1})) == 6
    with db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "queue.hours")).one()
    assert entry.after is not None and entry.after["date_overrides"][0]["note"] == "Staff training"


def test_a_bad_row_is_named_and_nothing_changes(signed_in: SignedIn, client: FlaskClient, demo_queue: str) -> None:
    supervisor = signed_in("supervisor")
    form = _hours_form(supervisor.get("/console/queues/support/hours").get_data(as_text=True))
    form["w-1-closes"] = "08:00"  # Tuesday closes before it opens
    refused = supervisor.post("/console/queues/support/hours", data=form)
    assert refused.status_code == 422 and "Weekly hours, row 2" in refused.get_data(as_text=True)
    assert len(slots(client, **{"from": "2027-01-05", "days": 1})) == 32


def _settings_form(html: str) -> dict[str, str]:
    """The settings form as a browser sends it unchanged (inputs, textareas, choices, checks)."""
    import html as html_module

    form = {k: v for k, v in _hours_form(html).items() if not re.match(r"^(w|o)-\d", k)}
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" value="yes"(?! checked)', html):
        form.pop(name, None)
    for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        form[name] = html_module.unescape(value)
    return form


def test_settings_by_form_round_trip_and_change(
    signed_in: SignedIn, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    supervisor = signed_in("supervisor")
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    assert form["name"] == "Support" and form["retry-busy-delay"] == "300" and form["reminders-before"] == "1440, 15"
    unchanged = supervisor.post("/console/queues/support/settings", data=form)
    assert unchanged.status_code == 303
    before = client.get("/api/v1/queues/support").get_json()
    form.update(
        {
            "name": "Support desk",
            "lead_minutes": "60",
            "reminders-before": "60",
            "widget-fields": "order | Order number | required\nnote | Note",
            "widget-units": "sales | Sales",
            "widget-origins": "https://shop.example.com",
        }
    )
    assert supervisor.post("/console/queues/support/settings", data=form).status_code == 303
    after = client.get("/api/v1/queues/support").get_json()
    assert (after["name"], after["lead_minutes"]) == ("Support desk", 60)
    assert after["widget"] == {
        "fields": [
            {"name": "order", "label": "Order number", "required": True},
            {"name": "note", "label": "Note", "required": False},
        ],
        "units": [{"id": "sales", "name": "Sales"}],
    }
    assert after["schedule"] == before["schedule"]
    with db.read() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "queue.settings")).all()
    assert entries[0].after == {} and set(entries[1].after or {}) == {"name", "lead_minutes", "reminders", "widget"}


def test_a_bad_setting_is_named_and_nothing_changes(signed_in: SignedIn, client: FlaskClient, demo_queue: str) -> None:
    supervisor = signed_in("supervisor")
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    form.update({"timezone": "Mars/Base", "retry-busy-attempts": "0"})
    refused = supervisor.post("/console/queues/support/settings", data=form)
    html = refused.get_data(as_text=True)
    assert (
        refused.status_code == 422
        and "<code>timezone</code>" in html
        and "retry_policy.rules.busy.max_attempts" in html
    )
    assert client.get("/api/v1/queues/support").get_json()["timezone"] == "Europe/London"


def _stored(db: Database) -> dict[str, Any]:
    with db.read() as session:
        return export_queue(get_queue(session, "support"))


def _audited(db: Database) -> list[dict[str, Any]]:
    with db.read() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "queue.settings")).all()
    return [entry.after or {} for entry in entries]


def _error_beside(html: str, name: str) -> str:
    """The error the form shows under the input ``name`` ("" when there is none)."""
    found = re.search(rf'<input id="{name}" [^>]*>\s*(?:<small>[^<]*</small>\s*)?<p class="error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_settings_hold_in_a_twilio_queue_by_form_stored_shown_and_kept(
    signed_in: SignedIn, db: Database, demo_queue: str
) -> None:
    supervisor = signed_in("supervisor")
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    assert (form["hold_mode"], form["twilio_queue"]) == ("dial", "")
    form.update({"hold_mode": "enqueue", "twilio_queue": "Support hold"})
    assert supervisor.post("/console/queues/support/settings", data=form).status_code == 303
    assert (_stored(db)["hold_mode"], _stored(db)["twilio_queue"]) == ("enqueue", "Support hold")
    shown = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    assert (shown["hold_mode"], shown["twilio_queue"]) == ("enqueue", "Support hold")
    assert supervisor.post("/console/queues/support/settings", data=shown).status_code == 303  # saved untouched
    assert (_stored(db)["hold_mode"], _stored(db)["twilio_queue"]) == ("enqueue", "Support hold")
    assert _audited(db) == [{"hold_mode": "enqueue", "twilio_queue": "Support hold"}, {}]


def test_settings_refuse_a_twilio_queue_with_the_dial_hold_and_save_nothing(
    signed_in: SignedIn, db: Database, demo_queue: str
) -> None:
    supervisor = signed_in("supervisor")
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    form.update({"twilio_queue": "Support hold", "lead_minutes": "60"})  # hold_mode stays dial
    refused = supervisor.post("/console/queues/support/settings", data=form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "<code>twilio_queue</code>" in html
    assert "goes with hold_mode enqueue" in _error_beside(html, "twilio_queue")
    assert (_stored(db)["twilio_queue"], _stored(db)["lead_minutes"]) == (None, 30)
    assert _audited(db) == []


def test_settings_taskrouter_sids_by_form_checked_stored_and_emptied(
    signed_in: SignedIn, db: Database, demo_queue: str
) -> None:
    supervisor = signed_in("supervisor")
    sids = {
        "taskrouter_workspace_sid": "WS" + "0123456789abcdef" * 2,
        "taskrouter_task_queue_sid": "WQ" + "ABCDEF0123456789" * 2,
        "taskrouter_workflow_sid": "WW" + "f" * 32,
    }
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    assert {name: form[name] for name in sids} == dict.fromkeys(sids, "")
    assert supervisor.post("/console/queues/support/settings", data={**form, **sids}).status_code == 303
    assert {name: _stored(db)[name] for name in sids} == sids
    shown = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    assert {name: shown[name] for name in sids} == sids
    assert supervisor.post("/console/queues/support/settings", data=shown).status_code == 303  # saved untouched
    assert _audited(db) == [sids, {}]

    malformed = supervisor.post(
        "/console/queues/support/settings", data={**shown, "taskrouter_task_queue_sid": "WQ1234"}
    )
    html = malformed.get_data(as_text=True)
    assert malformed.status_code == 422 and "<code>taskrouter_task_queue_sid</code>" in html
    assert "should match pattern" in _error_beside(html, "taskrouter_task_queue_sid")
    assert _error_beside(html, "taskrouter_workspace_sid") == ""
    # A task queue and a workflow without the workspace: the whole document's check says so.
    unlinked = supervisor.post("/console/queues/support/settings", data={**shown, "taskrouter_workspace_sid": ""})
    assert unlinked.status_code == 422 and "need taskrouter_workspace_sid" in unlinked.get_data(as_text=True)
    assert {name: _stored(db)[name] for name in sids} == sids

    emptied = {**shown, **dict.fromkeys(sids, "  ")}
    assert supervisor.post("/console/queues/support/settings", data=emptied).status_code == 303
    assert {name: _stored(db)[name] for name in sids} == dict.fromkeys(sids)
    assert _audited(db)[-1] == dict.fromkeys(sids)
