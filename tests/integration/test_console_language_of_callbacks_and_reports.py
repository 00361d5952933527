"""The console's callbacks, a callback's page, the reports and the wallboard in Russian and
in French: the language picked (``POST /console/language``, the ``console_lang`` cookie)
is the language of every word the pages show, and none of their English is left."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.integration.helpers import book, slots
from tests.integration.test_console_access import SignedIn, csrf, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures

# Per language: per page, words of its catalog the page shows (console/locales, merged
# from the fragments of the callbacks, reports and wallboard pages).
SHOWN = {
    "ru": {
        "list": ["1 обратный звонок.", "Телефон содержит", "Выгрузить CSV", "запланирован", "Состояние"],
        "detail": ["Обратный звонок", "Набрать сейчас", "История", "Звонков пока нет.", "запланирован", "запись"],
        "reports": ["Отчёты: ", "Неделя с ", "по дням", "Доля согласий", "Записано через консоль", "Скачать CSV"],
        "wallboard": ["Табло", "Обновлено в ", "Ожидают", "Свободные операторы", "Сбои доставки"],
    },
    "fr": {
        "list": ["1 rappel.", "Le téléphone contient", "Exporter en CSV", "planifié", "État"],
        "detail": ["Rappel", "Appeler maintenant", "Historique", "Aucun appel pour l’instant.", "planifié"],
        "reports": ["Rapports : ", "Semaine du ", "par jour", "Taux d’acceptation", "Réservés par la console"],
        "wallboard": ["Mis à jour à ", "En attente", "Agents libres", "Livraisons en échec"],
    },
}
# The pages' English, absent in either language.
ENGLISH = {
    "list": ["1 callback.", "Phone contains", "Export CSV", ">scheduled<", ">State<", "Created from"],
    "detail": ["Dial now", ">History<", "No calls yet.", "Add a note", ">scheduled<", ">Calls<"],
    "reports": ["Reports: ", "Week from ", "Take rate", "Booked by console", "Download CSV", "Click a bar"],
    "wallboard": ["Updated ", ">Pending<", "Agents free", "Deliveries failing", "Due now"],
}


def _pages(supervisor: FlaskClient, ref: str) -> dict[str, str]:
    paths = {
        "list": "/console/callbacks",
        "detail": f"/console/callbacks/{ref}",
        "reports": "/console/reports?queue=support&period=week",
        "wallboard": "/console/wallboard",
    }
    pages = {}
    for name, path in paths.items():
        answer = supervisor.get(path)
        assert answer.status_code == 200, path
        pages[name] = answer.get_data(as_text=True)
    return pages


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_the_callbacks_reports_and_wallboard_speak_the_language_picked(
    signed_in: SignedIn, client: FlaskClient, demo_queue: str, language: str
) -> None:
    ref = book(client, 1, slots(client)[0]["start"]).get_json()["ref"]
    supervisor = signed_in("supervisor")
    english = _pages(supervisor, ref)
    for page, words in ENGLISH.items():  # English until a language is picked
        assert all(word in english[page] for word in words), page
    picked = supervisor.post(
        "/console/language", data={"csrf_token": csrf(supervisor, "/console/"), "language": language}
    )
    assert picked.status_code == 303
    pages = _pages(supervisor, ref)
    for page, html in pages.items():
        assert f'<html lang="{language}">' in html, page
        missing = [word for word in SHOWN[language][page] if word not in html]
        assert not missing, (page, missing)
        left = [word for word in ENGLISH[page] if word in html]
        assert not left, (page, left)
    assert ref in pages["list"] and ref in pages["detail"]


def test_the_cookie_alone_picks_the_language(signed_in: SignedIn, client: FlaskClient, demo_queue: str) -> None:
    ref = book(client, 1, slots(client)[0]["start"]).get_json()["ref"]
    viewer = signed_in("viewer")
    viewer.set_cookie("console_lang", "fr", path="/console")
    listed = viewer.get("/console/callbacks").get_data(as_text=True)
    assert "1 rappel." in listed and "1 callback." not in listed
    assert f'href="/console/callbacks/{ref}"' in listed  # the codes stay: refs, and states in the filter
    assert '<option value="scheduled" >planifié</option>' in listed
    filtered = viewer.get("/console/callbacks?state=scheduled").get_data(as_text=True)
    assert ref in filtered and '<option value="scheduled" selected>planifié</option>' in filtered
    # The CSV is a machine format: its header stays English whatever the language.
    assert viewer.get("/console/callbacks.csv").get_data(as_text=True).splitlines()[0].startswith("ref,queue,phone")
    viewer.set_cookie("console_lang", "ru", path="/console")
    assert "1 обратный звонок." in viewer.get("/console/callbacks").get_data(as_text=True)
    report_csv = viewer.get("/console/reports.csv?queue=support&period=week").get_data(as_text=True)
    assert report_csv.splitlines()[0].startswith("day,offered,accepted,take_rate")
