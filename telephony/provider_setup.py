"""What a provider module is given to build its adapter: the environment its own settings
are read from (with the same strict parsing and ``NAME_FILE`` secrets as infra/settings.py),
and the installation's settings, database and clock.

Each provider module (telephony/simulator.py, twilio_adapter.py, vonage_adapter.py) has
``CALLS_PER_SECOND``, its default pace (``<NAME>_CPS`` overrides it), and
``configure(setup)``, which returns its adapter, or None when its credentials are not set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra.clock import Clock
from infra.db import Database
from infra.settings import Settings, parse_int, read_setting


@dataclass(frozen=True)
class ProviderSetup:
    settings: Settings
    db: Database
    clock: Clock

    @property
    def environment(self) -> Mapping[str, str]:
        return self.settings.environment

    def secret(self, name: str) -> str | None:
        """NAME, or the contents of the file NAME_FILE names; None (or empty) when unset."""
        return read_setting(self.environment, name) or None

    def whole_number(self, name: str, default: int, minimum: int, maximum: int) -> int:
        return parse_int(name, self.environment.get(name, str(default)), minimum, maximum)
