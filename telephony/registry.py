"""The providers: one line each in ``PROVIDERS``, and the adapters this installation
configured, built once from the settings.

A provider is one module (its adapter with its settings, parsing and quirks: see
telephony/provider_setup.py) and one line here; the simulator is built the same way.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

from infra import metrics
from infra.clock import Clock
from infra.db import Database
from infra.settings import Settings, SettingsError
from telephony.base import AgentFiguresSource, AgentReservations, Telephony
from telephony.provider_setup import ProviderSetup

# Provider name (in webhook URLs, queue documents, TELEPHONY_PROVIDER) -> its module.
PROVIDERS: Final[dict[str, str]] = {
    "simulator": "telephony.simulator",
    "twilio": "telephony.twilio_adapter",
    "vonage": "telephony.vonage_adapter",
}

# Live agent figures read from a provider's own ACD (docs/queues.md, "Live agent figures"):
# source name -> the provider whose credentials (and SDK client) it uses, and its module,
# one of that provider's family. The module's ``configure(adapter)`` builds the source.
FIGURE_SOURCES: Final[dict[str, tuple[str, str]]] = {
    "twilio_taskrouter": ("twilio", "telephony.twilio_taskrouter"),
}
# Provider -> the module of its ACD's agent reservations (agent-first through tasks).
RESERVATIONS: Final[dict[str, str]] = {
    "twilio": "telephony.twilio_taskrouter",
}

# The provider labels metrics may carry: every process that meets a provider (web, worker)
# imports this module before it counts.
metrics.name_providers(PROVIDERS)


def provider_module(name: str) -> ModuleType:
    return importlib.import_module(PROVIDERS[name])


class Providers:
    def __init__(self, settings: Settings, db: Database, clock: Clock) -> None:
        if settings.telephony_provider not in PROVIDERS:
            raise SettingsError(
                f"TELEPHONY_PROVIDER={settings.telephony_provider!r} must be one of {', '.join(PROVIDERS)}"
            )
        unknown = sorted(set(settings.calls_per_second) - set(PROVIDERS))
        if unknown:
            raise SettingsError(f"{unknown[0].upper()}_CPS names no provider (known: {', '.join(PROVIDERS)})")
        self.default = settings.telephony_provider
        self._settings = settings
        setup = ProviderSetup(settings, db, clock)
        self._adapters: dict[str, Telephony] = {}
        self._pace: dict[str, float] = {}
        for name in PROVIDERS:
            module = provider_module(name)
            adapter: Telephony | None = module.configure(setup)
            if adapter is not None:
                assert adapter.name == name, f"{PROVIDERS[name]} builds {adapter.name!r}, listed as {name!r}"
                self._adapters[name] = adapter
                self._pace[name] = float(module.CALLS_PER_SECOND)
        if self.default not in self._adapters:
            raise SettingsError(f"TELEPHONY_PROVIDER={self.default} needs its credentials (see docs/providers.md)")

    def get(self, name: str) -> Telephony:
        try:
            return self._adapters[name]
        except KeyError:
            raise LookupError(f"provider {name!r} is not configured") from None

    def __contains__(self, name: str) -> bool:
        return name in self._adapters

    def figure_source(self, name: str) -> AgentFiguresSource | None:
        """The live agent figures source ``name`` (FIGURE_SOURCES), on its provider's
        configured adapter; None when that provider is not configured here."""
        provider, module_name = FIGURE_SOURCES[name]
        adapter = self._adapters.get(provider)
        if adapter is None:
            return None
        source: AgentFiguresSource | None = importlib.import_module(module_name).configure(adapter)
        return source

    def reservations(self, provider: str) -> AgentReservations | None:
        """The agent reservations of ``provider``'s ACD (RESERVATIONS); None when it has
        none or is not configured here."""
        module_name = RESERVATIONS.get(provider)
        adapter = self._adapters.get(provider)
        if module_name is None or adapter is None:
            return None
        found: AgentReservations | None = importlib.import_module(module_name).configure(adapter)
        return found

    def names(self) -> tuple[str, ...]:
        """The providers configured here, in the registry's order."""
        return tuple(name for name in PROVIDERS if name in self._adapters)

    def register(self, adapter: Telephony) -> None:
        """Replace or add an adapter (tests put fakes at the HTTP boundary this way)."""
        self._adapters[adapter.name] = adapter

    def calls_per_second(self, name: str, settings: Settings | None = None) -> float:
        """The pace of calls to ``name``: its ``<NAME>_CPS`` setting, else the provider's own."""
        chosen = settings or self._settings
        return chosen.calls_per_second.get(name) or self._pace.get(name, 1.0)

    def route(self, primary: str | None, secondary: str | None) -> list[str]:
        """Providers to try for one dial, in order: the queue's primary (or the default),
        then its secondary when configured here."""
        first = primary if primary in self._adapters else self.default
        order = [first]
        if secondary and secondary in self._adapters and secondary != first:
            order.append(secondary)
        return order
