"""The hosted booking page (/book/<queue>) through the Flask test client: forms as a
browser without JavaScript sends them, the HTML answers parsed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback
from infra.text_models import SmsMessage
from tests.integration.helpers import book, phone

PAGE = "/book/support"


class Page(HTMLParser):
    """What a test needs of a page: its radio values, inputs, errors and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.radios: list[str] = []
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.errors: dict[str, str] = {}
        self.text: list[str] = []
        self._error_id: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("type") == "radio":
            self.radios.append(a.get("value") or "")
        elif tag in ("input", "select") and a.get("name"):
            self.inputs[a["name"] or ""] = a
        if tag == "p" and "error" in (a.get("class") or ""):
            self._error_id = a.get("id")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._error_id = None

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())
        if self._error_id and data.strip():
            self.errors[self._error_id.removesuffix("-error")] = data.strip()

    @property
    def all_text(self) -> str:
        return " ".join(self.text)


def page(response: Any) -> Page:
    return Page(response.get_data(as_text=True))


def callbacks(db: Database) -> list[Callback]:
    with db.read() as session:
        return list(session.scalars(select(Callback).order_by(Callback.id)))


def test_the_form_offers_asap_and_only_times_with_seats(client: FlaskClient, demo_queue: str) -> None:
    first = page(client.get(PAGE))
    assert first.radios[0] == "asap"
    assert first.radios[1] == "2027-01-04T10:30:00+00:00"  # now + 30 minutes' lead
    assert "Monday 4 January" in first.all_text and "Europe/London" in first.all_text
    for n in (1, 2):  # fill 10:30's two seats
        assert book(client, n, "2027-01-04T10:30:00+00:00").status_code == 201
    assert "2027-01-04T10:30:00+00:00" not in page(client.get(PAGE)).radios
    assert "website" in first.inputs and first.inputs["website"].get("tabindex") == "-1"


def test_booking_a_time_shows_the_reference_and_cancel_frees_the_seat(
    client: FlaskClient, db: Database, demo_queue: str
) -> None:
    form = {"phone": "07400 123456", "when": "2027-01-05T09:00:00+00:00", "name": "Ann"}
    answer = client.post(PAGE, data=form)
    assert answer.status_code == 303
    [callback] = callbacks(db)
    assert (callback.phone, callback.source, callback.name, callback.kind) == (
        "+447400123456",
        "web",
        "Ann",
        "scheduled",
    )
    assert answer.headers["Location"].startswith(f"/book/support/callbacks/{callback.ref}")
    done = page(client.get(answer.headers["Location"]))
    assert callback.ref in done.all_text and "Tuesday 5 January, 09:00" in done.all_text
    cancelled = client.post(f"/book/support/callbacks/{callback.ref}/cancel")
    assert cancelled.status_code == 200 and "Your callback is cancelled" in page(cancelled).all_text
    assert callbacks(db)[0].state == "cancelled"
    assert "2027-01-05T09:00:00+00:00" in page(client.get(f"{PAGE}?from=2027-01-05")).radios


def test_errors_are_shown_next_to_their_field_and_the_form_is_kept(
    client: FlaskClient, db: Database, demo_queue: str
) -> None:
    answer = client.post(PAGE, data={"phone": "12", "when": "asap", "name": "Bob"})
    assert answer.status_code == 422
    shown = page(answer)
    assert shown.errors == {"phone": "This is not a phone number we can call. Please check it."}
    assert shown.inputs["phone"]["value"] == "12" and shown.inputs["name"]["value"] == "Bob"
    assert shown.inputs["phone"].get("aria-invalid") == "true"
    missing = page(client.post(PAGE, data={"phone": ""}))
    assert set(missing.errors) == {"phone", "when"}
    assert callbacks(db) == []


def test_the_page_refuses_what_the_api_refuses_and_stores_nothing(
    client: FlaskClient, db: Database, make_queue: Any
) -> None:
    # Issue 16, finding 7: it stored control characters in a name and a 5000-character
    # unit in a String(100). The page checks the API's own schema (CreateCallback).
    make_queue(widget={"fields": [{"name": "order", "label": "Order number"}]})
    cases = [
        ({"name": "Bob\x00\x1b[31m"}, "name"),
        ({"unit": "u" * 5000}, "unit"),
        ({"field_order": "x" * 300}, "field_order"),
        ({"phone": "+44 7400 " + "1" * 40}, "phone"),
    ]
    for extra, field in cases:
        answer = client.post(PAGE, data={"phone": phone(1), "when": "asap", **extra})
        assert answer.status_code == 422, (field, answer.status_code)
        shown = page(answer)
        assert "too long or has characters we cannot take" in shown.all_text
        # Next to its input; a unit this queue does not offer has none: in the summary only.
        assert field in shown.errors or field == "unit", (field, shown.errors)
        api_body = {"queue": "support", "phone": phone(1), "kind": "asap"}
        api_body |= {
            "name": {"name": extra.get("name")},
            "unit": {"unit": extra.get("unit")},
            "field_order": {"fields": [{"name": "order", "value": extra.get("field_order", "")}]},
            "phone": {"phone": extra.get("phone")},
        }[field]
        assert client.post("/api/v1/callbacks", json=api_body).status_code == 422  # the API: the same
    assert callbacks(db) == []
    assert client.post(PAGE, data={"phone": phone(1), "when": "asap", "name": "Zoë O'Brien"}).status_code == 303


def test_a_time_taken_meanwhile_is_said_next_to_the_times(client: FlaskClient, db: Database, demo_queue: str) -> None:
    start = "2027-01-04T10:30:00+00:00"
    for n in (1, 2):
        book(client, n, start)
    answer = client.post(PAGE, data={"phone": phone(3), "when": start})
    assert answer.status_code == 409
    assert page(answer).errors == {"when": "That time has just been taken. Please choose another."}


def test_visitor_input_is_never_put_in_the_page_unescaped(client: FlaskClient, demo_queue: str) -> None:
    evil = '"><img src=x onerror=alert(1)>'
    html = client.post(PAGE, data={"phone": "1", "name": evil, "when": "asap"}).get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_honeypot_refuses_a_bot(client: FlaskClient, db: Database, demo_queue: str) -> None:
    answer = client.post(PAGE, data={"phone": phone(1), "when": "asap", "website": "http://spam.example"})
    assert answer.status_code == 422 and callbacks(db) == []


def test_extra_fields_units_and_tags_from_the_queue(client: FlaskClient, db: Database, make_queue: Any) -> None:
    make_queue(
        widget={
            "fields": [{"name": "order", "label": "Order number", "required": True}],
            "units": [{"id": "sales", "name": "Sales"}, {"id": "billing", "name": "Billing"}],
            "tags": ["web"],
        }
    )
    shown = page(client.get(PAGE))
    assert "Order number" in shown.all_text and "field_order" in shown.inputs and "unit" in shown.inputs
    refused = client.post(PAGE, data={"phone": phone(1), "when": "asap"})
    assert refused.status_code == 422 and set(page(refused).errors) == {"field_order", "unit"}
    assert (
        client.post(PAGE, data={"phone": phone(1), "when": "asap", "field_order": "A-17", "unit": "sales"}).status_code
        == 303
    )
    [callback] = callbacks(db)
    assert (callback.fields, callback.unit, callback.tags) == ([{"name": "order", "value": "A-17"}], "sales", ["web"])


def test_off_hours_without_collecting_offers_times_only(
    client: FlaskClient, clock: FixedClock, demo_queue: str
) -> None:
    clock.set(datetime(2027, 1, 9, 12, 0, tzinfo=UTC))  # Saturday
    shown = page(client.get(PAGE))
    assert "asap" not in shown.radios and shown.radios[0] == "2027-01-11T09:00:00+00:00"
    assert client.post(PAGE, data={"phone": phone(1), "when": "asap"}).status_code == 409


def test_off_hours_with_collecting_offers_as_soon_as_we_open(
    client: FlaskClient, clock: FixedClock, make_queue: Any
) -> None:
    make_queue(collect_off_hours=True)
    clock.set(datetime(2027, 1, 9, 12, 0, tzinfo=UTC))
    shown = page(client.get(PAGE))
    assert shown.radios[0] == "asap" and "As soon as we open" in shown.all_text


def test_consent_to_texts_sends_the_confirmation(client: FlaskClient, db: Database, demo_queue: str) -> None:
    client.post(PAGE, data={"phone": phone(1), "when": "2027-01-06T14:30:00+00:00", "sms_consent": "yes"})
    with db.read() as session:
        kinds = session.scalars(select(SmsMessage.kind).order_by(SmsMessage.id)).all()
    assert sorted(kinds) == ["booking_confirmation", "reminder_1440m", "reminder_15m"]


def test_the_page_speaks_the_queues_language_or_the_asked_one(client: FlaskClient, make_queue: Any) -> None:
    make_queue(language="fr")
    assert "Réserver un rappel" in page(client.get(PAGE)).all_text
    assert "Заказать обратный звонок" in page(client.get(f"{PAGE}?lang=ru")).all_text
    assert "Book a callback" in page(client.get(f"{PAGE}?lang=en")).all_text
    assert "lundi 4 janvier" in page(client.get(PAGE)).all_text


def test_an_unknown_queue_or_callback_is_a_404_page(client: FlaskClient, demo_queue: str) -> None:
    missing = client.get("/book/nope")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert client.get("/book/support/callbacks/ZZZZZZZZZZ").status_code == 404


def test_a_double_submit_books_once(client: FlaskClient, db: Database, demo_queue: str) -> None:
    form = {"phone": phone(1), "when": "2027-01-05T09:00:00+00:00"}
    first, second = client.post(PAGE, data=form), client.post(PAGE, data=form)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(callbacks(db)) == 1


def _links(app: Flask, db: Database, clock: FixedClock, ref: str | None = None) -> str:
    """The booking page path and token a texted short link leads to."""
    from services.links import short_booking_url
    from tests.integration.helpers import follow_link

    with db.write() as session:
        url = short_booking_url(session, app.extensions["settings"], clock.now(), "support", phone(7), ref=ref)
    path, token = follow_link(app.test_client(), url)
    return f"{path}?t={token}"


def test_a_booking_link_fills_in_the_phone_and_a_bad_one_explains_itself(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    url = _links(app, db, clock)
    assert page(client.get(url)).inputs["phone"]["value"] == phone(7)
    bad = client.get(f"{PAGE}?t=not-a-token")
    assert bad.status_code == 404 and "This link is not valid" in page(bad).all_text
    clock.advance(days=8)
    expired = client.get(url)
    assert expired.status_code == 410 and "This link has expired" in page(expired).all_text
    assert page(expired).inputs["phone"]["value"] == ""


def test_a_reschedule_link_shows_the_booking_moves_it_once_then_explains(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    ref = book(client, 7, "2027-01-05T09:00:00+00:00").get_json()["ref"]
    url = _links(app, db, clock, ref=ref)
    shown = page(client.get(url))
    assert "Move your callback" in shown.all_text and "Tuesday 5 January, 09:00" in shown.all_text
    assert "phone" not in shown.inputs and "asap" not in shown.radios
    moved = client.post(url.replace(PAGE, f"{PAGE}/reschedule"), data={"when": "2027-01-06T11:00:00+00:00"})
    assert moved.status_code == 303
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["slot_start"] == "2027-01-06T11:00:00+00:00"
    assert "Wednesday 6 January, 11:00" in page(client.get(moved.headers["Location"])).all_text
    again = client.get(url)
    assert again.status_code == 410 and "already been used" in page(again).all_text
    replay = client.post(url.replace(PAGE, f"{PAGE}/reschedule"), data={"when": "2027-01-07T11:00:00+00:00"})
    assert replay.status_code == 410
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["slot_start"] == "2027-01-06T11:00:00+00:00"


def test_a_reschedule_to_a_full_time_keeps_the_link_usable(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    ref = book(client, 7, "2027-01-05T09:00:00+00:00").get_json()["ref"]
    full = "2027-01-06T11:00:00+00:00"
    for n in (1, 2):
        book(client, n, full)
    url = _links(app, db, clock, ref=ref)
    refused = client.post(url.replace(PAGE, f"{PAGE}/reschedule"), data={"when": full})
    assert refused.status_code == 409
    assert page(refused).errors == {"when": "That time has just been taken. Please choose another."}
    assert (
        client.post(url.replace(PAGE, f"{PAGE}/reschedule"), data={"when": "2027-01-06T11:15:00+00:00"}).status_code
        == 303
    )


def test_an_asap_booking_s_page_says_the_range_the_text_says(client: FlaskClient, demo_queue: str) -> None:
    done = client.post(PAGE, data={"phone": phone(1), "when": "asap"}, follow_redirects=True)
    # The demo queue: no live figures, an estimated wait of 0: between now (10:00) and 2 minutes on.
    assert "between 10:00 and 10:02 (Europe/London)" in done.get_data(as_text=True)


DAY_LINK = re.compile(r'<a href="([^"]+)#when"\s*(aria-current="date")?>\s*<span>([^<]+)</span> <small>([^<]+)</small>')


def day_links(response: Any) -> list[tuple[str, bool, str, str]]:
    """(href, shown now, day, count) of each day link, in order."""
    found = DAY_LINK.findall(response.get_data(as_text=True))
    return [(unescape(href), bool(cur), day, count) for href, cur, day, count in found]


def test_the_page_shows_the_days_with_their_counts_then_one_day_s_times_by_part(
    client: FlaskClient, demo_queue: str
) -> None:
    # Monday 10:00: Monday has 10:30-16:45 (26 times), Tuesday to Friday 09:00-16:45 (32).
    first = client.get(PAGE)
    links = day_links(first)
    assert [(day, count) for _, _, day, count in links] == [
        ("Monday 4 January", "26 times"),
        ("Tuesday 5 January", "32 times"),
        ("Wednesday 6 January", "32 times"),
        ("Thursday 7 January", "32 times"),
        ("Friday 8 January", "32 times"),
    ]
    assert [shown for _, shown, _, _ in links] == [True, False, False, False, False]
    shown = page(first)
    assert shown.radios[0] == "asap" and len(shown.radios) == 1 + 26  # no wall: one day's times
    assert shown.radios[1:3] == ["2027-01-04T10:30:00+00:00", "2027-01-04T10:45:00+00:00"]
    html = first.get_data(as_text=True)
    assert html.index("Morning") < html.index("11:45") < html.index("Afternoon") < html.index("12:00")
    assert "Evening" not in html
    # Following a day's link (no JavaScript): that day's times, the language and window kept.
    wednesday = links[2][0]
    assert "day=2027-01-06" in wednesday and "lang=en" in wednesday
    later = client.get(wednesday)
    assert page(later).radios[1:] == [
        f"2027-01-06T{h:02d}:{m:02d}:00+00:00" for h in range(9, 17) for m in (0, 15, 30, 45)
    ]
    assert [shown for _, shown, _, _ in day_links(later)] == [False, False, True, False, False]
    for unknown in ("2027-01-09", "not-a-day"):  # a day without times, or no day: the first one
        assert page(client.get(f"{PAGE}?day={unknown}")).radios[1] == "2027-01-04T10:30:00+00:00"


def test_the_russian_page_counts_times_in_russian(client: FlaskClient, demo_queue: str) -> None:
    links = day_links(client.get(f"{PAGE}?lang=ru"))
    assert (links[0][2], links[0][3]) == ("понедельник 4 января", "26 вариантов")
    assert "Утро" in client.get(f"{PAGE}?lang=ru").get_data(as_text=True)


def test_an_error_shows_the_day_of_the_chosen_time_again(client: FlaskClient, demo_queue: str) -> None:
    chosen = "2027-01-07T14:00:00+00:00"
    answer = client.post(f"{PAGE}?lang=en", data={"phone": "12", "when": chosen})
    assert answer.status_code == 422
    assert chosen in page(answer).radios and f'value="{chosen}" checked' in answer.get_data(as_text=True)
    assert [shown for _, shown, _, _ in day_links(answer)][3] is True
    # The form's action keeps the day shown: a second error without a time still shows it.
    action = re.search(r'<form method="post" action="([^"]+)"', answer.get_data(as_text=True))
    assert action and "day=2027-01-07" in unescape(action.group(1))
    again = client.post(unescape(action.group(1)), data={"phone": "12"})
    assert "2027-01-07T09:00:00+00:00" in page(again).radios


def test_a_booking_link_s_day_links_keep_its_token(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    links = day_links(client.get(_links(app, db, clock)))
    followed = client.get(links[1][0])
    assert page(followed).inputs["phone"]["value"] == phone(7)
    assert page(followed).radios[1] == "2027-01-05T09:00:00+00:00"


def test_the_page_keeps_where_the_visitor_came_from_through_its_links_to_the_booking(
    client: FlaskClient, db: Database, demo_queue: str
) -> None:
    campaign = f"{PAGE}?utm_source=newsletter&utm_campaign=spring&utm_medium=email"
    first = client.get(campaign, headers={"Referer": "https://news.example.com/issue/7"})
    wednesday = day_links(first)[2][0]  # the day's link keeps it (our pages send no Referer on)
    assert "utm_campaign=spring" in wednesday and "ref=https" in wednesday
    shown = client.get(wednesday)
    action = re.search(r'<form method="post" action="([^"]+)"', shown.get_data(as_text=True))
    assert action is not None
    booked = client.post(unescape(action.group(1)), data={"phone": phone(1), "when": "2027-01-06T11:00:00+00:00"})
    assert booked.status_code == 303
    [callback] = callbacks(db)
    assert callback.attribution == {
        "source": "newsletter",
        "medium": "email",
        "campaign": "spring",
        "referrer": "https://news.example.com/issue/7",
        "landing_page": "http://localhost/book/support?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
    }


def test_attribution_the_api_would_refuse_is_left_out_not_the_booking(
    client: FlaskClient, db: Database, demo_queue: str
) -> None:
    odd = f"{PAGE}?utm_source={'x' * 500}&utm_campaign=spring"
    answer = client.post(odd, data={"phone": phone(2), "when": "asap"}, headers={"Referer": "http://localhost/book"})
    assert answer.status_code == 303
    [callback] = callbacks(db)
    assert callback.attribution is not None and "source" not in callback.attribution
    assert callback.attribution["campaign"] == "spring" and "referrer" not in callback.attribution  # our own page
    assert client.post(PAGE, data={"phone": phone(3), "when": "asap"}).status_code == 303
    assert callbacks(db)[1].attribution is None  # nothing came with it: nothing stored
