"""The console's language picker in headless Chromium: a supervisor switches the console to
Russian from the header and stays on the page they were on; the choice holds on the next
pages and after signing out, whatever the browser's own language."""

from __future__ import annotations

from typing import Any

from flask import Flask

from infra.db import Database
from services.accounts import create_user

PASSWORD = "correct horse battery"


def sign_in(page: Any, email: str) -> None:
    page.goto("/console/")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")  # the sign-in form, in whatever language the page is


def test_the_picker_switches_the_console_and_keeps_the_page(
    app: Flask, db: Database, demo_queue: str, page: Any
) -> None:
    with db.write() as session:
        create_user(session, "lead@example.com", PASSWORD, "supervisor", app.extensions["clock"].now())
    sign_in(page, "lead@example.com")
    page.get_by_role("link", name="Callbacks", exact=True).click()
    page.wait_for_url("**/console/callbacks")
    assert page.locator("html").get_attribute("lang") == "en"

    page.get_by_label("Language").select_option("ru")
    page.get_by_role("button", name="Change").click()
    page.wait_for_url("**/console/callbacks")
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.get_by_label("Язык").input_value() == "ru"
    page.get_by_role("link", name="Отчёты").click()
    page.wait_for_url("**/console/reports**")
    assert page.locator("html").get_attribute("lang") == "ru"

    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/console/login**")
    assert page.get_by_role("heading", name="Войти").is_visible()
    page.get_by_label("Язык").select_option("fr")
    page.get_by_role("button", name="Сменить").click()
    assert page.get_by_role("heading", name="Se connecter").is_visible()
