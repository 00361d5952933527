"""Attribution (docs/widget.md#attribution): the API validates a web visitor's UTM values,
referrer, landing page and session key, stores them with the callback and returns them;
the CRM events carry them; anonymising keeps only the UTM values; the reports break the
figures down by source and by campaign."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from events.payloads import document, to_xml
from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import OutboxEvent
from infra.models import Callback
from services.booking_service import cancel
from services.personal_data import anonymise_callbacks
from tests.integration.test_console_access import SignedIn, signed_in, users  # noqa: F401
from tests.integration.test_reports import _dial, _due

ORIGIN = "https://shop.example.com"
VISIT = {
    "session_key": "Zx8-k2_91",
    "first_visit_at": "2027-01-02T09:15:00.000Z",
    "source": "newsletter",
    "medium": "email",
    "campaign": "winter",
    "term": "call back",
    "content": "banner",
    "referrer": "https://mail.example.com/inbox",
    "landing_page": "https://shop.example.com/prices?utm_source=newsletter&utm_campaign=winter",
}


@pytest.fixture
def shop_queue(make_queue) -> str:  # type: ignore[no-untyped-def]
    """The demo queue, with the shop's site allowed to book in it (CORS)."""
    return str(make_queue(widget={"allowed_origins": [ORIGIN]}))


def _post(client: FlaskClient, phone: str, attribution: Any = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"queue": "support", "phone": phone, "kind": "asap", **extra}
    if attribution is not None:
        body["attribution"] = attribution
    return client.post("/api/v1/callbacks", json=body, headers={"Origin": ORIGIN})


def test_a_booking_stores_and_returns_its_attribution(client: FlaskClient, shop_queue: str, db: Database) -> None:
    created = _post(client, "+447400123401", VISIT)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["attribution"] == VISIT
    ref = created.get_json()["ref"]
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["attribution"] == VISIT
    with db.read() as session:
        assert session.scalars(select(Callback.attribution).where(Callback.ref == ref)).one() == VISIT

    # Empty and null values are not kept; a booking with nothing keeps nothing.
    sparse = _post(client, "+447400123402", {"source": " ads ", "medium": "", "campaign": None})
    assert sparse.get_json()["attribution"] == {"source": "ads"}
    assert _post(client, "+447400123403", {"referrer": ""}).get_json()["attribution"] is None
    bare = _post(client, "+447400123404").get_json()
    assert bare["attribution"] is None
    unattributed = [_post(client, "+447400123403").get_json()["ref"], bare["ref"]]
    with db.read() as session:  # SQL NULL, not JSON null
        nulls = select(Callback.ref).where(Callback.attribution.is_(None)).order_by(Callback.id)
        assert session.scalars(nulls).all() == unattributed


def test_bad_attribution_is_refused_field_by_field(client: FlaskClient, shop_queue: str, db: Database) -> None:
    cases = [
        ({"source": "ads", "gclid": "abc"}, "attribution.gclid"),
        ({"campaign": "c" * 201}, "attribution.campaign"),
        ({"referrer": "https://example.com/" + "r" * 2000}, "attribution.referrer"),
        ({"landing_page": 42}, "attribution.landing_page"),
        ({"session_key": "<script>"}, "attribution.session_key"),
        ({"first_visit_at": "last week"}, "attribution.first_visit_at"),
        ({"term": "a\x00b"}, "attribution.term"),
        ("newsletter", "attribution"),
    ]
    for attribution, field in cases:
        answer = _post(client, "+447400123405", attribution)
        assert answer.status_code == 422, attribution
        assert answer.get_json()["type"] == "validation_error"
        assert list(answer.get_json()["details"]) == [field], answer.get_json()
    with db.read() as session:
        assert session.scalars(select(Callback.id)).all() == []


def test_the_crm_event_carries_the_attribution(client: FlaskClient, shop_queue: str, db: Database) -> None:
    ref = _post(client, "+447400123406", VISIT).get_json()["ref"]
    bare = _post(client, "+447400123407").get_json()["ref"]
    with db.read() as session:
        docs = {}
        for event in session.scalars(select(OutboxEvent).where(OutboxEvent.type == "callback.created")):
            doc = document(session, event)
            docs[doc["callback"]["ref"]] = (doc, to_xml(doc).decode())
    doc, xml = docs[ref]
    assert doc["callback"]["attribution"] == VISIT
    assert "<attribution><session_key>Zx8-k2_91</session_key>" in xml
    assert "<campaign>winter</campaign>" in xml
    assert docs[bare][0]["callback"]["attribution"] is None
    assert '<attribution null="true" />' in docs[bare][1]


def test_anonymising_keeps_the_utm_values_only(
    client: FlaskClient, shop_queue: str, db: Database, clock: FixedClock
) -> None:
    ref = _post(client, "+447400123408", VISIT).get_json()["ref"]
    with db.write() as session:
        callback = cancel(session, ref, clock.now(), "customer:web")
        anonymise_callbacks(session, [callback.id], clock.now())
    with db.read() as session:
        kept = session.scalars(select(Callback.attribution).where(Callback.ref == ref)).one()
    assert kept == {k: VISIT[k] for k in ("source", "medium", "campaign", "term", "content")}


def _csv(viewer: FlaskClient, by: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The CSV by ``by``: its groups in order (the total last) and each one's figures."""
    answer = viewer.get(f"/console/reports.csv?queue=support&period=week&start=2027-01-04&by={by}")
    assert answer.status_code == 200
    assert (
        answer.headers["Content-Disposition"] == f'attachment; filename="callbacks-support-week-2027-01-04-by-{by}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    return [row[by] for row in rows], {row[by]: row for row in rows}


def test_the_reports_break_the_figures_down_by_source_and_campaign(
    client: FlaskClient,
    shop_queue: str,
    db: Database,
    clock: FixedClock,
    signed_in: SignedIn,  # noqa: F811
) -> None:
    booked = {
        "news": _post(client, "+447400123410", {"source": "newsletter", "campaign": "winter"}),
        "ads-winter": _post(client, "+447400123411", {"source": "ads", "campaign": "winter"}),
        "ads-spring": _post(client, "+447400123412", {"source": "ads", "campaign": "spring"}),
        "ads-none": _post(client, "+447400123413", {"source": "ads"}),
        "direct": _post(client, "+447400123414"),
    }
    refs = {name: answer.get_json()["ref"] for name, answer in booked.items()}
    with db.read() as session:
        ids = {ref: cid for ref, cid in session.execute(select(Callback.ref, Callback.id))}
    news = ids[refs["news"]]
    _dial(db, news, 1, _due(db, news), "connected", 70, 61)  # completed, 2 billable minutes
    with db.write() as session:
        cancel(session, refs["ads-spring"], clock.now(), "customer:web")

    viewer = signed_in("viewer")
    sources, by_source = _csv(viewer, "source")
    campaigns, by_campaign = _csv(viewer, "campaign")
    assert sources == ["ads", "(none)", "newsletter", "total"]  # the most booked first, then by name
    assert campaigns == ["(none)", "winter", "spring", "total"]
    figures = ("booked_web", "booked_total", "completed", "cancelled_web", "dialled", "billable_minutes", "offered")
    assert [by_source["ads"][f] for f in figures] == ["3", "3", "0", "1", "0", "0", ""]
    assert [by_source["newsletter"][f] for f in figures] == ["1", "1", "1", "0", "1", "2", ""]
    assert [by_source["(none)"][f] for f in figures] == ["1", "1", "0", "0", "0", "0", ""]
    assert [by_source["total"][f] for f in figures] == ["5", "5", "1", "1", "1", "2", "0"]
    assert [by_campaign["winter"][f] for f in figures] == ["2", "2", "1", "0", "1", "2", ""]
    assert [by_campaign["spring"][f] for f in figures] == ["1", "1", "0", "1", "0", "0", ""]
    assert [by_campaign["(none)"][f] for f in figures] == ["2", "2", "0", "0", "0", "0", ""]
    assert viewer.get("/console/reports.csv?queue=support&by=medium").status_code == 404
    # Without ``by`` the CSV is the days' and the total, as before.
    days = viewer.get("/console/reports.csv?queue=support&period=week&start=2027-01-04").get_data(as_text=True)
    assert [line.split(",")[0] for line in days.splitlines()][1:] == [f"2027-01-{d:02d}" for d in range(4, 11)] + [
        "total"
    ]

    page = viewer.get("/console/reports?queue=support&period=week&start=2027-01-04")
    html = page.get_data(as_text=True)
    by_source = html[html.index('<table id="by-source">') : html.index('<table id="by-campaign">')]
    cells = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td>', by_source))
    assert cells == {"ads": "3", "(none)": "1", "newsletter": "1"}  # the first column: booked
    assert "By campaign (utm_campaign)" in html
    assert "reports.csv?queue=support&amp;period=week&amp;interval=day&amp;start=2027-01-04&amp;by=campaign" in html


def test_the_consoles_callback_page_says_where_the_visitor_came_from(
    client: FlaskClient,
    shop_queue: str,
    signed_in: SignedIn,  # noqa: F811
) -> None:
    attributed = _post(client, "+447400123420", VISIT).get_json()["ref"]
    bare = _post(client, "+447400123421").get_json()["ref"]
    viewer = signed_in("viewer")
    html = viewer.get(f"/console/callbacks/{attributed}").get_data(as_text=True)
    assert "Came from:" in html
    assert "campaign <code>winter</code>" in html and "landing page <code>https://shop.example.com/prices?" in html
    assert "Came from:" not in viewer.get(f"/console/callbacks/{bare}").get_data(as_text=True)
