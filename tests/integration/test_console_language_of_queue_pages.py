"""The capacity grid, the hours, the queue document and the settings in Russian and French
(the console_lang cookie the language picker sets): their words, the weekday names from
Babel, grid.js's selection sentence and a form's errors, with the same status as in English."""

from __future__ import annotations

import json
import re

import pytest
from flask.testing import FlaskClient

from tests.integration.test_console_access import SignedIn, csrf, signed_in, users
from tests.integration.test_console_queues import _settings_form

__all__ = ["signed_in", "users"]  # fixtures

WORDS = {
    "ru": {
        "grid": ["Support: места в слотах", "Предыдущая неделя", "Задать места для диапазона", "нет бронирований"],
        "weekdays": ["понедельник", "пятница", "воскресенье"],
        "day": "пн 4 янв.",
        "selected": "Выбрано %(num)d ячеек: с %(first)s по %(last)s, с %(starts)s до %(ends)s.",
        "hours": ["Support: часы работы", "Каждую неделю", "Особые даты (праздники, особый график)", "Сохранить"],
        "queue": ["Очередь support", "Документ", "Настройки (форма)", "<code>callbacks queue import</code>"],
        "settings": ["Support: настройки", "Повторные попытки", "Занято", "Сначала клиенту", "Отправить раньше"],
        "not_saved": "Не сохранено:",
        "whole_number": "нужно целое число, например 30",
        "seats": "Места: нужно целое число от 0 до 10000",
        "no_weekday": "Дни недели: выберите хотя бы один день недели",
        "json": "это не корректный JSON",
    },
    "fr": {
        "grid": [
            "Support : places par créneau",
            "Semaine précédente",
            "Fixer les places d’une plage",
            "aucune réservation",
        ],
        "weekdays": ["lundi", "vendredi", "dimanche"],
        "day": "lun. 4 janv.",
        "selected": "%(num)d cellules sélectionnées : du %(first)s au %(last)s, de %(starts)s à %(ends)s.",
        "hours": ["Support : horaires", "Chaque semaine", "Dates particulières (jours fériés, horaires spéciaux)"],
        "queue": ["File d’attente support", "Document", "Réglages (formulaire)", "<code>callbacks queue import</code>"],
        "settings": ["Support : réglages", "Nouvelles tentatives", "Occupé", "Le client d’abord", "L’envoyer plus tôt"],
        "not_saved": "Non enregistré :",
        "whole_number": "un nombre entier, par exemple 30",
        "seats": "Places : un nombre entier de 0 à 10000",
        "no_weekday": "Jours de la semaine : choisissez au moins un jour de la semaine",
        "json": "JSON non valide",
    },
}


def _in(language: str, signed_in: SignedIn) -> FlaskClient:
    supervisor = signed_in("supervisor")
    supervisor.set_cookie("console_lang", language, path="/console")
    return supervisor


def _text(html: str) -> str:
    """The page as read: entities such as &#39; and &rsquo; unescaped."""
    import html as html_module

    return html_module.unescape(html)


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_the_grid_in_the_console_language(language: str, signed_in: SignedIn, demo_queue: str) -> None:
    words = WORDS[language]
    page = _in(language, signed_in).get("/console/queues/support/grid?week=2027-01-04")
    assert page.status_code == 200
    html = _text(page.get_data(as_text=True))
    assert f'<html lang="{language}">' in html
    for said in [*words["grid"], *words["weekdays"], words["day"]]:
        assert said in html, said
    block = re.search(r'<script type="application/json" id="grid-words">(.*?)</script>', html, re.S)
    assert block
    selected = json.loads(block.group(1))["selected"]
    assert words["selected"] in selected.values()
    assert "other" in selected and all("%(num)d" in form for form in selected.values())


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_the_hours_queue_and_settings_in_the_console_language(
    language: str, signed_in: SignedIn, demo_queue: str
) -> None:
    words = WORDS[language]
    supervisor = _in(language, signed_in)
    hours = _text(supervisor.get("/console/queues/support/hours").get_data(as_text=True))
    for said in [*words["hours"], *words["weekdays"]]:
        assert said in hours, said
    assert f'<option value="friday" selected>{words["weekdays"][1]}</option>' in hours  # the value stays
    queue = _text(supervisor.get("/console/queues/support").get_data(as_text=True))
    for said in words["queue"]:
        assert said in queue, said
    settings = _text(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    for said in words["settings"]:
        assert said in settings, said
    assert '<option value="customer_first" selected>' in settings


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_form_errors_come_back_in_the_console_language(language: str, signed_in: SignedIn, demo_queue: str) -> None:
    words = WORDS[language]
    supervisor = _in(language, signed_in)
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    refused = supervisor.post("/console/queues/support/settings", data={**form, "lead_minutes": "soon"})
    html = _text(refused.get_data(as_text=True))
    assert refused.status_code == 422
    assert words["not_saved"] in html and words["whole_number"] in html

    token = csrf(supervisor, "/console/queues/support/grid")
    good = {"csrf_token": token, "week": "2027-01-04", "starts": "09:00", "ends": "10:00"}
    seats = supervisor.post(
        "/console/queues/support/capacity/range",
        data={**good, "first_day": "2027-01-05", "last_day": "2027-01-05", "seats": "-1"},
    )
    assert seats.status_code == 422 and words["seats"] in _text(seats.get_data(as_text=True))
    pattern = supervisor.post(
        "/console/queues/support/capacity/pattern", data={**good, "seats": "3", "over": "weeks", "weeks": "1"}
    )
    assert pattern.status_code == 422 and words["no_weekday"] in _text(pattern.get_data(as_text=True))

    broken = supervisor.post("/console/queues", data={"csrf_token": token, "key": "support", "document": "{"})
    assert broken.status_code == 422 and words["json"] in _text(broken.get_data(as_text=True))
