"""Reports on a seeded week with known answers: offers through the simulated IVR,
bookings through the booking service, attempts and their outcomes as the dialer leaves
them. The page and the CSV must show the hand-counted figures."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html import unescape

from flask import Flask
from sqlalchemy import select

from app.simulator_page import in_process_deliver
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback, CallbackEvent, IvrOffer
from ivr_flows import inbound
from services.booking_service import BookingRequest, book, cancel
from services.ivr_offers import note_acceptance, note_offer
from services.transitions import apply_step
from telephony.script import VoiceScript
from telephony.simulator_driver import SimulatorDriver
from tests.integration.test_console_access import SignedIn, signed_in, users  # noqa: F401

CALLER, HOLDER = "+447400123456", "+447400123457"
QUEUE_NUMBER = "+441632960001"
MONDAY = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)


def _phone_sim(app: Flask, db: Database, clock: FixedClock) -> SimulatorDriver:
    return SimulatorDriver(db, app.extensions["settings"].secret_key, in_process_deliver(app), clock)


def _dial(
    db: Database, callback_id: int, number: int, at: datetime, outcome: str, duration: int, billable: int | None
) -> None:
    """One attempt as the dialer records it: start_dial, the CDR, then what the outcome led to."""
    with db.write() as session:
        callback = session.get_one(Callback, callback_id)
        apply_step(session, callback, "start_dial", at, "worker-1")
        session.add(
            Attempt(
                callback_id=callback_id,
                number=number,
                provider="simulator",
                call_id=f"sim-{callback_id}-{number}",
                call_state="completed",
                outcome=outcome,
                requested_at=at,
                started_at=at + timedelta(seconds=1),
                answered_at=at + timedelta(seconds=5) if outcome == "connected" else None,
                agent_answered_at=at + timedelta(seconds=8) if outcome == "connected" else None,
                ended_at=at + timedelta(seconds=duration + 1),
                duration_seconds=duration,
                billable_seconds=billable,
            )
        )
        end = at + timedelta(seconds=duration + 1)
        callback.attempts = number
        if outcome == "connected":
            apply_step(session, callback, "connect", end, "provider")
            apply_step(session, callback, "complete", end, "provider")
        else:
            apply_step(session, callback, "retry", end, "provider")


def _due(db: Database, callback_id: int) -> datetime:
    with db.read() as session:
        payload = session.scalars(
            select(CallbackEvent.payload).where(CallbackEvent.callback_id == callback_id, CallbackEvent.step == "book")
        ).one()
    return datetime.fromisoformat(payload["due_at"])


def _book(db: Database, clock: FixedClock, phone: str, source: str, actor: str, slot: datetime | None) -> int:
    with db.write() as session:
        request = BookingRequest(
            queue="support", phone=phone, kind="scheduled" if slot else "asap", source=source, slot_start=slot
        )
        return book(session, request, clock.now(), actor).callback.id


def seed(app: Flask, db: Database, clock: FixedClock, make_queue) -> None:  # type: ignore[no-untyped-def]
    make_queue()
    make_queue(key="sales", name="Sales")
    # The IVR: one caller takes the offer (a time: today 11:00), one keeps holding.
    phone = _phone_sim(app, db, clock)
    inbound_url = f"{app.extensions['settings'].public_base_url}/webhooks/simulator/voice/inbound"
    taker = phone.dial_in(CALLER, QUEUE_NUMBER, inbound_url)["call_id"]
    phone.press(taker, "2")
    phone.press(taker, "1")
    assert "eleven o'clock" in str(phone.press(taker, "3")["script"])
    phone.press(taker, "2")  # no text
    holder = phone.dial_in(HOLDER, QUEUE_NUMBER, inbound_url)["call_id"]
    phone.press(holder, "*")
    with db.write() as session:  # a provider retrying both webhooks counts nothing twice
        state = inbound.IvrState(queue="support", call_id=taker, step="offer")
        note_offer(session, 1, "simulator", inbound.Reply(VoiceScript(()), state), clock.now(), "menu")
        note_acceptance(session, "simulator", state, inbound.TextLink(CALLER, "{link}"), clock.now())
    with db.read() as session:
        (ivr,) = session.scalars(select(Callback).where(Callback.source == "ivr")).all()
        ivr_id = ivr.id
    web = _book(db, clock, "+447400000002", "web", "customer:web", None)
    sms = _book(db, clock, "+447400000003", "sms", "customer:sms", datetime(2027, 1, 4, 14, 0, tzinfo=UTC))
    api = _book(db, clock, "+447400000004", "api", "api-key:CRM", datetime(2027, 1, 5, 10, 0, tzinfo=UTC))
    desk = _book(db, clock, "+447400000005", "console", "ann@example.com", datetime(2027, 1, 6, 9, 0, tzinfo=UTC))
    with db.write() as session:  # another queue's callback counts in its own report only
        other = BookingRequest(queue="sales", phone="+447400000009", kind="asap", source="web")
        book(session, other, clock.now(), "customer:web")

    # Completed on Monday in 2 attempts: the first 30 s after its due time (on time).
    due = _due(db, ivr_id)
    _dial(db, ivr_id, 1, due + timedelta(seconds=30), "no_answer", 20, 0)
    _dial(db, ivr_id, 2, due + timedelta(minutes=10), "connected", 130, 121)  # 3 billable minutes
    # Unreachable on Monday after 3 attempts, the first 90 s late: an ASAP callback, on time
    # all the same, inside the range of minutes its customer was told (scheduler/ecbt.py).
    due = _due(db, web)
    _dial(db, web, 1, due + timedelta(seconds=90), "busy", 0, 0)
    _dial(db, web, 2, due + timedelta(minutes=10), "busy", 0, 0)
    _dial(db, web, 3, due + timedelta(minutes=20), "no_answer", 45, None)  # no billsec: 45 s -> 1 minute
    with db.write() as session:
        callback = session.get_one(Callback, web)
        apply_step(session, callback, "start_dial", due + timedelta(minutes=21), "worker-1")
        apply_step(session, callback, "give_up", due + timedelta(minutes=22), "provider")
    # Cancelled by text on Monday; by a supervisor on Tuesday.
    with db.write() as session:
        cancel(session, session.get_one(Callback, sms).ref, MONDAY + timedelta(minutes=5), "customer:sms")
    # Tuesday: the API's callback is dialled on the dot and completed; 61 s billed -> 2 minutes.
    _dial(db, api, 1, _due(db, api), "connected", 70, 61)
    with db.write() as session:
        cancel(session, session.get_one(Callback, desk).ref, TUESDAY, "ann@example.com")


HEADER = (
    "day,offered,accepted,take_rate,offered_arrival,take_rate_arrival,offered_menu,take_rate_menu,"
    "offered_holding,take_rate_holding,minutes_saved,booked_ivr,booked_sms,booked_web,booked_api,booked_console,"
    "booked_total,"
    "completed,unreachable,cancelled_text,cancelled_web,cancelled_api,cancelled_ivr,cancelled_call,"
    "cancelled_supervisor,cancelled_other,cancelled_total,dialled,connected,connect_rate,attempts,"
    "attempts_per_completed,first_dials,on_time,on_time_rate,average_dispatch_lag_seconds,billable_minutes,"
    "average_late_seconds,answered,average_speed_to_answer_seconds,answers,agent_reached,"
    "average_wait_after_connect_seconds,abandoned,abandon_rate,failovers,failovers_connected,"
    "attempts_simulator,connected_simulator"
)
# Both IVR offers came with the first prompt (on arrival); the caller who took one was spared
# the line's wait then: 4 callers waiting x 240 s handle time / 2 agents = 480 s, 8 minutes.
# Lateness against the promise: the IVR's callback 30 s after its time, the web's ASAP one
# inside its range (0), the API's on the dot. Answered: 5 s after each connected attempt
# was requested (the IVR's second, 10 minutes after its time: 605 s), an agent 3 s later.
MONDAY_ROW = (
    "2027-01-04,2,1,0.5000,2,0.5000,0,,0,,8.0,1,1,1,1,1,5,1,1,1,0,0,0,0,0,0,1,2,1,0.5000,5,2.00,2,2,1.0000,60.0,4,"
    "15.0,1,605.0,1,1,3.0,0,0.0000,0,0,5,1"
)
TUESDAY_ROW = (
    "2027-01-05,0,0,,0,,0,,0,,0.0,0,0,0,0,0,0,1,0,0,0,0,0,0,1,0,1,1,1,1.0000,1,1.00,1,1,1.0000,0.0,2,"
    "0.0,1,5.0,1,1,3.0,0,0.0000,0,0,1,1"
)
QUIET = ",0,0,,0,,0,,0,,0.0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,,0,,0,0,,,0,,0,,0,0,,0,,0,0,0,0"
TOTAL_ROW = (
    "total,2,1,0.5000,2,0.5000,0,,0,,8.0,1,1,1,1,1,5,2,1,1,0,0,0,0,1,0,2,3,2,0.6667,6,1.50,3,3,1.0000,40.0,6,"
    "10.0,2,305.0,2,2,3.0,0,0.0000,0,0,6,2"
)


def test_the_csv_has_a_row_per_day_and_the_total(
    app: Flask,
    db: Database,
    clock: FixedClock,
    make_queue,  # type: ignore[no-untyped-def]
    signed_in: SignedIn,  # noqa: F811
) -> None:
    seed(app, db, clock, make_queue)
    with db.read() as session:
        offers = session.scalars(select(IvrOffer).order_by(IvrOffer.id)).all()
        assert [(o.choice, o.accepted_at is not None) for o in offers] == [("time", True), (None, False)]
    answer = signed_in("viewer").get("/console/reports.csv?queue=support&period=week&start=2027-01-06")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="callbacks-support-week-2027-01-04.csv"'
    rows = [",".join(row) for row in csv.reader(io.StringIO(answer.get_data(as_text=True)))]
    quiet = [f"2027-01-{day:02d}{QUIET}" for day in range(6, 11)]
    assert rows == [HEADER, MONDAY_ROW, TUESDAY_ROW, *quiet, TOTAL_ROW]
    day = signed_in("viewer").get("/console/reports.csv?queue=support&period=day&interval=day&start=2027-01-05")
    assert day.get_data(as_text=True).splitlines()[1:] == [TUESDAY_ROW, "total" + TUESDAY_ROW[len("2027-01-05") :]]
    # By the hour (a day's default), in the queue's zone: all of Tuesday's figures at 10:00.
    hours = signed_in("viewer").get("/console/reports.csv?queue=support&period=day&start=2027-01-05")
    assert hours.headers["Content-Disposition"] == 'attachment; filename="callbacks-support-day-2027-01-05.csv"'
    hour_rows = hours.get_data(as_text=True).splitlines()
    assert hour_rows[0].startswith("hour,offered,") and len(hour_rows) == 1 + 24 + 1
    assert hour_rows[1 + 10] == "2027-01-05T10:00:00+00:00" + TUESDAY_ROW[len("2027-01-05") :]
    assert (
        hour_rows[1 + 9].startswith("2027-01-05T09:00:00+00:00,0,0,,")
        and hour_rows[-1] == day.get_data(as_text=True).splitlines()[-1]
    )
    sales = signed_in("viewer").get("/console/reports.csv?queue=sales&period=month&start=2027-01-20")
    sales_rows = sales.get_data(as_text=True).splitlines()
    assert len(sales_rows) == 1 + 31 + 1
    assert sales_rows[-1].startswith("total,0,0,,0,,0,,0,,0.0,0,0,1,0,0,1,0,0,")


def _table(html: str) -> dict[str, list[str]]:
    rows = {}
    for label, cells in re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', html):
        rows[label] = re.findall(r"<td[^>]*>([^<]*)</td>", cells)
    return rows


def test_the_page_shows_the_figures_and_charts(
    app: Flask,
    db: Database,
    clock: FixedClock,
    make_queue,  # type: ignore[no-untyped-def]
    signed_in: SignedIn,  # noqa: F811
) -> None:
    seed(app, db, clock, make_queue)
    answer = signed_in("viewer").get("/console/reports?queue=support&period=week&start=2027-01-04")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    table = _table(html)
    assert table["Take rate"][0] == "50.0%" and table["Take rate"][-1] == "50.0%"
    assert table["Booked"][-1] == "5" and table["Booked by console"][-1] == "1"
    assert table["Connect rate"][-1] == "66.7%"
    assert table["Attempts per completed callback"][-1] == "1.50"
    assert table["On-time rate"][:3] == ["100.0%", "100.0%", "–"]
    assert table["Average dispatch lag (s)"][-1] == "40.0"
    assert table["Billable minutes"] == ["4", "2", "0", "0", "0", "0", "0", "6"]
    assert table["Cancelled by text"][-1] == "1" and table["Cancelled by a supervisor"][-1] == "1"
    assert html.count('role="img"') == 4
    assert '<title id="chart-booked-title">Callbacks booked, each day, by source</title>' in html
    assert table["Average speed to answer, due to answered (s)"][-1] == "305.0"
    assert table["Attempts on simulator"][-1] == "6" and table["Abandon rate in callbacks"][-1] == "0.0%"
    assert "<title>Mon 04, ivr: 1</title>" in html  # each bar says what it is


def test_unknown_queues_and_odd_parameters(
    db: Database,
    demo_queue: str,
    signed_in: SignedIn,  # noqa: F811
    client,  # type: ignore[no-untyped-def]
) -> None:
    viewer = signed_in("viewer")
    assert viewer.get("/console/reports?queue=nope").status_code == 404
    fallback = viewer.get("/console/reports?period=decade&start=not-a-date")  # this week, the first queue
    assert fallback.status_code == 200 and "Week from Mon 04 Jan 2027" in fallback.get_data(as_text=True)
    assert client.get("/console/reports.csv").status_code == 302  # anonymous: to the sign-in page
    # An interval the period is not cut into is the period's own: a week by days.
    odd = viewer.get("/console/reports.csv?queue=support&period=week&interval=month&start=2027-01-04")
    assert odd.get_data(as_text=True).splitlines()[0].startswith("day,")
    assert viewer.get("/console/reports/callbacks?queue=support&figure=billable_minutes").status_code == 404
    assert viewer.get("/console/reports/callbacks?queue=support&figure=booked&window=99").status_code == 404
    assert viewer.get("/console/reports/callbacks?queue=nope&figure=booked").status_code == 404


def test_an_offer_counts_as_taken_only_once_the_booking_holds(
    app: Flask,
    db: Database,
    clock: FixedClock,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue()
    phone = _phone_sim(app, db, clock)
    inbound_url = f"{app.extensions['settings'].public_base_url}/webhooks/simulator/voice/inbound"
    call_id = phone.dial_in(CALLER, QUEUE_NUMBER, inbound_url)["call_id"]
    phone.press(call_id, "2")
    phone.press(call_id, "1")  # the times: 10:30, 10:45, 11:00
    eleven = datetime(2027, 1, 4, 11, 0, tzinfo=UTC)
    _book(db, clock, "+447400000002", "web", "customer:web", eleven)
    _book(db, clock, "+447400000003", "web", "customer:web", eleven)  # 11:00 is full now
    assert "just been taken" in str(phone.press(call_id, "3")["script"])

    def taken() -> list[tuple[str | None, bool]]:
        with db.read() as session:
            return [(o.choice, o.accepted_at is not None) for o in session.scalars(select(IvrOffer))]

    assert taken() == [(None, False)]
    phone.press(call_id, "1")  # 10:30
    assert taken() == [("time", True)]


def test_a_bar_drills_down_to_the_callbacks_it_counts(
    app: Flask,
    db: Database,
    clock: FixedClock,
    make_queue,  # type: ignore[no-untyped-def]
    signed_in: SignedIn,  # noqa: F811
) -> None:
    seed(app, db, clock, make_queue)
    viewer = signed_in("viewer")
    html = viewer.get("/console/reports?queue=support&period=week&start=2027-01-04").get_data(as_text=True)
    # The outcome chart's "completed" bar over Tuesday links to the drill-down of that day.
    links = re.findall(r'<a href="([^"]+)" aria-label="Tue 05, completed: 1: list the callbacks">', html)
    assert len(links) == 1
    listed = viewer.get(unescape(links[0]))
    assert listed.status_code == 200
    refs = re.findall(r"<code>([A-Z0-9]+)</code>", listed.get_data(as_text=True))
    with db.read() as session:
        api_ref = session.scalars(select(Callback.ref).where(Callback.source == "api")).one()
        booked = set(
            session.scalars(select(Callback.ref).join(Callback.queue).where(Callback.queue.has(key="support")))
        )
    assert refs == [api_ref]
    # The whole week's bookings: the five of this queue, not the other queue's.
    week = viewer.get("/console/reports/callbacks?queue=support&period=week&start=2027-01-04&figure=booked")
    assert set(re.findall(r"<code>([A-Z0-9]+)</code>", week.get_data(as_text=True))) == booked and len(booked) == 5
    # And as CSV, by the hour: Tuesday 10:00's completed callback.
    hourly = "/console/reports/callbacks.csv?queue=support&period=day&start=2027-01-05&figure=completed&window=10"
    rows = list(csv.reader(io.StringIO(viewer.get(hourly).get_data(as_text=True))))
    assert rows[0][:3] == ["ref", "phone", "state"] and [r[0] for r in rows[1:]] == [api_ref]
