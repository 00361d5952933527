"""The console's language: the picker's choice (a cookie that outlives signing out), else
the browser's Accept-Language, else English; a language it does not have is refused."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.integration.test_console_access import SignedIn, csrf, sign_in, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures


def _pick(client: FlaskClient, language: str, next_path: str = "/console/") -> object:
    token = csrf(client, "/console/login")
    return client.post("/console/language", data={"language": language, "next": next_path, "csrf_token": token})


def test_without_a_choice_the_browser_s_language_is_used_and_else_english(app: Flask) -> None:
    client = app.test_client()
    french = client.get("/console/login", headers={"Accept-Language": "de-DE,fr;q=0.8,en;q=0.5"})
    assert '<html lang="fr">' in french.get_data(as_text=True) and "Se connecter" in french.get_data(as_text=True)
    russian = client.get("/console/login", headers={"Accept-Language": "ru-RU"}).get_data(as_text=True)
    assert "Войти" in russian and "Sign in" not in russian
    for header in ({}, {"Accept-Language": "de-DE, ja"}):
        english = client.get("/console/login", headers=header).get_data(as_text=True)
        assert '<html lang="en">' in english and "Sign in" in english


def test_the_picker_s_choice_wins_over_the_browser_and_outlives_signing_out(app: Flask, users: dict[str, int]) -> None:
    client = app.test_client()
    chosen = _pick(client, "ru", "/console/callbacks?state=scheduled")
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/console/callbacks?state=scheduled"
    cookie = client.get_cookie("console_lang", path="/console")
    assert cookie is not None and cookie.value == "ru" and cookie.http_only
    assert sign_in(client, "viewer@example.com").status_code == 303
    page = client.get("/console/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="ru">' in page and "Обзор" in page and "Выйти" in page and "(наблюдатель)" in page
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert "Войти" in client.get("/console/login").get_data(as_text=True)
    _pick(client, "en")
    assert "Sign in" in client.get("/console/login", headers={"Accept-Language": "ru"}).get_data(as_text=True)


def test_an_unknown_language_or_a_foreign_next_is_refused_or_ignored(signed_in: SignedIn) -> None:
    viewer = signed_in("viewer")
    refused = _pick(viewer, "de")
    assert refused.status_code == 400 and "Choose English, Russian or French." in refused.get_data(as_text=True)
    assert viewer.get_cookie("console_lang", path="/console") is None
    elsewhere = _pick(viewer, "fr", "//evil.example/console/")
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"] == "/console/"


def test_a_post_without_the_csrf_token_does_not_change_the_language(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/console/language", data={"language": "fr"}).status_code == 400
    assert client.get_cookie("console_lang", path="/console") is None
