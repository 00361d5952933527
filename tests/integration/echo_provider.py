"""A provider added the way docs/providers.md says: this one module (its adapter, its
settings, its pace) and one line in telephony/registry.py's PROVIDERS, which
tests/integration/test_adding_a_provider.py adds. It speaks the simulator's protocol
under its own name, so the phone simulator's driver can answer its calls."""

from __future__ import annotations

from telephony.provider_setup import ProviderSetup
from telephony.simulator import SimulatorTelephony

CALLS_PER_SECOND = 50.0  # ECHO_CPS overrides it


class EchoTelephony(SimulatorTelephony):
    name = "echo"


def configure(setup: ProviderSetup) -> EchoTelephony | None:
    """ECHO_ENABLED=true turns it on; ECHO_SECRET signs its webhooks (else SECRET_KEY)."""
    if setup.environment.get("ECHO_ENABLED") != "true":
        return None
    return EchoTelephony(setup.db, setup.secret("ECHO_SECRET") or setup.settings.secret_key, clock=setup.clock)
