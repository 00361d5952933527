"""The providers this installation can use, built once from the settings."""

from __future__ import annotations

from infra.clock import Clock
from infra.db import Database
from infra.settings import Settings
from telephony.base import Telephony
from telephony.simulator import SimulatorTelephony


class Providers:
    def __init__(self, settings: Settings, db: Database, clock: Clock) -> None:
        self.default = settings.telephony_provider
        simulator = SimulatorTelephony(
            db, settings.secret_key, clock=clock, latency_seconds=settings.simulator_latency_ms / 1000
        )
        self._adapters: dict[str, Telephony] = {"simulator": simulator}
        if "twilio" in settings.configured_providers:
            from telephony.twilio_adapter import TwilioTelephony

            assert settings.twilio_account_sid and settings.twilio_auth_token
            self._adapters["twilio"] = TwilioTelephony(settings.twilio_account_sid, settings.twilio_auth_token)
        if "vonage" in settings.configured_providers:
            from telephony.vonage_adapter import VonageTelephony

            assert settings.vonage_application_id and settings.vonage_private_key
            self._adapters["vonage"] = VonageTelephony(
                application_id=settings.vonage_application_id,
                private_key=settings.vonage_private_key,
                api_key=settings.vonage_api_key or "",
                api_secret=settings.vonage_api_secret or "",
                signature_secret=settings.vonage_signature_secret or "",
            )

    def get(self, name: str) -> Telephony:
        try:
            return self._adapters[name]
        except KeyError:
            raise LookupError(f"provider {name!r} is not configured") from None

    def __contains__(self, name: str) -> bool:
        return name in self._adapters

    def register(self, adapter: Telephony) -> None:
        """Replace or add an adapter (tests put fakes at the HTTP boundary this way)."""
        self._adapters[adapter.name] = adapter

    def route(self, primary: str | None, secondary: str | None) -> list[str]:
        """Providers to try for one dial, in order: the queue's primary (or the default),
        then its secondary when configured here."""
        first = primary if primary in self._adapters else self.default
        order = [first]
        if secondary and secondary in self._adapters and secondary != first:
            order.append(secondary)
        return order
