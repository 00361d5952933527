"""The console's session cookie, with long-lived sessions for wallboards.

A session lasts PERMANENT_SESSION_LIFETIME (12 hours) from the request that last refreshed
it (Flask signs a timestamp into the cookie and refuses older ones). A TV showing the
wallboard must not be signed out overnight, so a session made for a ``wallboard`` user
carries a mark (``LONG_LIVED``) and holds for LONG_LIFETIME instead, cookie and
signature alike. The mark alone gives nothing: console/blueprint.py accepts such a
session only while its user is active, has not changed password (``session_version``)
and is still a wallboard user; anyone else's session keeps the short lifetime.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import BadSignature

LONG_LIVED = "long_lived"
LONG_LIFETIME = timedelta(days=400)


class ConsoleSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            return self.session_class(signer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds())))
        except BadSignature:
            pass
        try:
            data = signer.loads(value, max_age=int(LONG_LIFETIME.total_seconds()))
        except BadSignature:
            return self.session_class()
        return self.session_class(data) if data.get(LONG_LIVED) else self.session_class()

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        if session.permanent and session.get(LONG_LIVED):
            return datetime.now(UTC) + LONG_LIFETIME
        return super().get_expiration_time(app, session)
