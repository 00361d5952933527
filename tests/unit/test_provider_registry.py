"""telephony/registry.py: every provider, the simulator included, is built from its own
module by the registry, from the settings that module reads; a TELEPHONY_PROVIDER or a
<NAME>_CPS naming no provider, or a default provider without its credentials, stops the
start-up with a clear error."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from infra.clock import SystemClock
from infra.db import Database
from infra.settings import SettingsError, load_settings
from telephony.base import Telephony
from telephony.registry import PROVIDERS, Providers
from telephony.simulator import SimulatorTelephony
from telephony.twilio_adapter import TwilioTelephony
from telephony.vonage_adapter import VonageTelephony
from tests.unit.vonage_fakes import rsa_key_pair

TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "a" * 32, "TWILIO_AUTH_TOKEN": "token"}


def providers(tmp_path: Path, **env: str) -> Providers:
    settings = load_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", **env})
    return Providers(settings, Database(settings), SystemClock())


def test_every_listed_module_is_a_provider_of_that_name(tmp_path: Path) -> None:
    for module_name in PROVIDERS.values():
        module = importlib.import_module(module_name)
        assert module.CALLS_PER_SECOND > 0 and callable(module.configure)
    private_key, _ = rsa_key_pair()
    everything = providers(
        tmp_path,
        **TWILIO,
        VONAGE_APPLICATION_ID="app",
        VONAGE_PRIVATE_KEY=private_key,
        VONAGE_API_KEY="key",
        VONAGE_API_SECRET="secret",
        VONAGE_SIGNATURE_SECRET="signed",
    )
    assert everything.names() == tuple(PROVIDERS)
    for name in PROVIDERS:
        adapter = everything.get(name)
        assert isinstance(adapter, Telephony) and adapter.name == name
    assert isinstance(everything.get("vonage"), VonageTelephony)
    assert all(everything.get(name).verifies_webhooks for name in PROVIDERS)


def test_the_simulator_alone_by_default_and_a_provider_once_its_credentials_are_set(tmp_path: Path) -> None:
    default = providers(tmp_path)
    assert default.names() == ("simulator",) and default.default == "simulator"
    assert isinstance(default.get("simulator"), SimulatorTelephony)
    with pytest.raises(LookupError, match="not configured"):
        default.get("twilio")
    assert providers(tmp_path, TWILIO_ACCOUNT_SID="AC" + "a" * 32).names() == ("simulator",)  # half set
    (tmp_path / "token").write_text("from-a-file\n")
    twilio = providers(
        tmp_path,
        TELEPHONY_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID="AC" + "a" * 32,
        TWILIO_AUTH_TOKEN_FILE=str(tmp_path / "token"),
    )
    assert twilio.default == "twilio" and isinstance(twilio.get("twilio"), TwilioTelephony)
    assert twilio.route(None, "simulator") == ["twilio", "simulator"]


def test_each_provider_has_its_own_pace_which_its_setting_overrides(tmp_path: Path) -> None:
    paced = providers(tmp_path, **TWILIO)
    assert (paced.calls_per_second("simulator"), paced.calls_per_second("twilio")) == (20.0, 1.0)
    faster = providers(tmp_path, **TWILIO, TWILIO_CPS="5", SIMULATOR_CPS="0.5")
    assert (faster.calls_per_second("simulator"), faster.calls_per_second("twilio")) == (0.5, 5.0)
    with pytest.raises(SettingsError, match="TWILIO_CPS"):
        providers(tmp_path, TWILIO_CPS="fast")


def test_the_simulator_reads_its_own_latency(tmp_path: Path) -> None:
    simulator = providers(tmp_path, SIMULATOR_LATENCY_MS="250").get("simulator")
    assert isinstance(simulator, SimulatorTelephony) and simulator.latency_seconds == 0.25
    with pytest.raises(SettingsError, match="SIMULATOR_LATENCY_MS"):
        providers(tmp_path, SIMULATOR_LATENCY_MS="-1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TELEPHONY_PROVIDER": "skype"}, "TELEPHONY_PROVIDER='skype' must be one of simulator, twilio, vonage"),
        ({"TELEPHONY_PROVIDER": "twilio"}, "TELEPHONY_PROVIDER=twilio needs its credentials"),
        ({"TELEPHONY_PROVIDER": "vonage", "VONAGE_APPLICATION_ID": "app"}, "TELEPHONY_PROVIDER=vonage needs"),
        ({"SKYPE_CPS": "3"}, "SKYPE_CPS names no provider"),
        (
            {"VONAGE_APPLICATION_ID": "app", "VONAGE_PRIVATE_KEY": "pem", "VONAGE_API_KEY": "key"},
            "the VONAGE_ settings cannot be used",
        ),
    ],
)
def test_a_setting_naming_no_usable_provider_stops_the_start(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        providers(tmp_path, **env)


def test_taskrouter_figures_come_with_twilio_credentials_only(tmp_path: Path) -> None:
    assert providers(tmp_path).figure_source("twilio_taskrouter") is None
    source = providers(tmp_path, **TWILIO).figure_source("twilio_taskrouter")
    assert source is not None and source.name == "twilio_taskrouter"
