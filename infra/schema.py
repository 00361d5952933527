"""Every table: importing this fills ``Base.metadata`` with the production schema
(infra/models.py and the text, account, event, inbound-call, wallboard and availability models beside it) and the phone
simulator's tables, for migrations and for whatever reads the whole schema."""

from __future__ import annotations

from infra import (
    account_models,
    availability_models,
    event_models,
    inbound_models,
    simulator_models,
    text_models,
    wallboard_models,
)
from infra.models import Base

metadata = Base.metadata
MODULES = (
    account_models,
    availability_models,
    event_models,
    inbound_models,
    simulator_models,
    text_models,
    wallboard_models,
)  # imported for their tables
