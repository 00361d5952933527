"""The users, API keys, events and delivery log pages in Russian and in French (the
``console_lang`` cookie), a failed delivery's reason among them, and the sign-in's refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import EventSubscription
from tests.integration.test_console_access import SignedIn, csrf, sign_in, signed_in, users
from tests.integration.test_events_api import add_delivery

__all__ = ["signed_in", "users"]  # fixtures

# The words each page shows, by language: console/locales (the fragments of this change).
WORDS = {
    "ru": {
        "/console/users": ["Добавить пользователя", "Последний вход", "(вы)", "супервайзер"],
        "/console/api-keys": ["Создать ключ", "клиент: заказывает, читает и отменяет обратные звонки"],
        "/console/events": ["Подписать получателя", "Сменить секрет", "активна", "все очереди"],
        "/console/events/deliveries": [
            "Журнал доставки",
            "Отправить снова",
            "не доставлено",
            "Получатель ответил HTTP 503 (ошибка сервера)",
            "Получатель отклонил соединение",
        ],
    },
    "fr": {
        "/console/users": ["Ajouter un utilisateur", "Dernière connexion", "(vous)", "superviseur"],
        "/console/api-keys": ["Créer une clé", "client : réserve, consulte et annule des rappels"],
        "/console/events": ["Abonner un destinataire", "Renouveler le secret", "actif", "toutes les files d’attente"],
        "/console/events/deliveries": [
            "Journal des envois",
            "Renvoyer",
            "échec",
            "Le destinataire a répondu HTTP 503 (erreur du serveur)",
            "Connexion refusée par le destinataire",
        ],
    },
}
REFUSED = {"ru": "неверный адрес электронной почты или пароль", "fr": "e-mail ou mot de passe incorrect"}


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_the_admin_pages_speak_the_chosen_language(
    signed_in: SignedIn, db: Database, clock: FixedClock, demo_queue: str, language: str
) -> None:
    admin = signed_in("admin")
    made = admin.post(
        "/console/events",
        data={
            "csrf_token": csrf(admin, "/console/events"),
            "name": "CRM",
            "url": "https://crm.example.com/hooks",
            "event_types": ["callback.created"],
        },
    )
    assert made.status_code == 201
    with db.read() as session:
        crm = session.scalars(select(EventSubscription.id)).one()
    t0 = clock.now() - timedelta(hours=1)
    add_delivery(db, crm, t0, "failed", [(t0, 503), (t0 + timedelta(minutes=5), None)])  # then connection_refused

    admin.set_cookie("console_lang", language)
    for path, words in WORDS[language].items():
        page = admin.get(path)
        html = page.get_data(as_text=True)
        assert page.status_code == 200, path
        missing = [word for word in words if word not in html]
        assert not missing, (path, missing)
        assert "connection_refused" not in html and "Connection refused" not in html


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_a_refused_sign_in_is_told_in_the_chosen_language(app: Flask, users: dict[str, int], language: str) -> None:
    client = app.test_client()
    client.set_cookie("console_lang", language)
    refused = sign_in(client, "admin@example.com", "not the password")
    assert refused.status_code == 401 and REFUSED[language] in refused.get_data(as_text=True)
