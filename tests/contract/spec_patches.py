"""Patched copies of the providers' OpenAPI specs, made at test time for Prism.

The originals in ``tests/contract/specs/`` (see its README) are never edited:
``write_patched`` reads one, applies its patches below to an in-memory copy and
writes it as JSON into a temporary folder, where Prism serves it. YAML specs are
parsed with ``@stoplight/yaml`` from ``node_modules`` (the parser Prism itself uses),
so no YAML library is needed on the Python side. Every patch first checks that what
it patches is still there and in the shape it expects: a newer copy of a spec that
no longer needs (or no longer fits) a patch fails loudly here instead of silently
validating against something else.

Patches, and why
----------------

Twilio (``twilio_api_v2010.json``)

T1. ``encoding: {<field>: {style: form, explode: true}}`` for every array field of
    every ``application/x-www-form-urlencoded`` request body. The SDK sends list
    parameters (``StatusCallbackEvent``) as repeated form keys, which is what
    OpenAPI's default for form bodies (style form, explode true) means; Prism 5.16
    without an explicit ``encoding`` keeps only the last value and answers 422
    "must be array" (an open Prism issue). The patch restates the default, so the
    spec means the same; the tests check separately that all repeated keys reached
    the server, since Prism would not notice a lost one.

Twilio TaskRouter (``twilio_taskrouter_v1.json``): served unpatched. The one operation
the figures poll uses (a task queue's RealTimeStatistics, GET with a ``TaskChannel``
query) needs none: Prism checks its path SIDs' patterns, the query and the Basic
credentials, and its example answer conforms to its own schema.

Note: Prism does not reject form keys the schema does not define (it decodes only
the known ones; even ``additionalProperties: false`` changes nothing, tried), so the
tests check every form key the SDK sent against the operation's properties
themselves (``body_fields``).

Vonage Voice (``vonage_voice.yml``, 2021)

V1. ``type`` gets an enum of its one value in each endpoint schema (``phone``,
    ``sip``, ``websocket``, ``vbc``; ``from`` too), as each schema's description says
    ("Must be `phone`"). The create-call ``to`` items are a ``oneOf`` of these, and
    ``EndpointSip`` requires nothing but a free ``type``, so a phone endpoint matched
    both phone and SIP and every phone ``to`` was rejected ("must match exactly one
    schema in oneOf"). Without it a malformed number was accepted as a SIP endpoint
    too, so the negative controls depend on it as much as the positive tests.
V2. (tightening) The phone-number pattern ``\\d{7,15}`` (``AddressE164``) is anchored
    (``^\\d{7,15}$``). JSON Schema patterns are unanchored, so ``+447700900123`` or
    any text holding seven digits passed; Vonage wants the digits alone (the SDK's
    own ``PhoneNumber`` type is ``^[1-9]\\d{6,14}$``), which the adapter's ``+``
    stripping is meant to give.
V3. ``conversation_uuid`` loses ``format: uuid``. Vonage's conversation ids are
    ``CON-<uuid>``, as the spec's own example says; with ``--errors`` Prism also
    validates the answers it makes up, and answered every create-call with a 500
    ("conversation_uuid must match format uuid") built from its own example.

Vonage SMS (``vonage_sms.yml``, 2021)

S1. Credentials as HTTP Basic. The 4.x SDK sends ``api_key``/``api_secret`` in an
    ``Authorization: Basic`` header; the 2021 spec declares no security scheme and
    requires ``api_key`` in the form body. The adapter uses Basic on purpose (the
    SDK's signed sending is broken: PROVIDERS.md) and it is what Vonage's own
    current SDK sends, so the 2021 spec is taken to be out of date: ``api_key`` leaves ``required`` and the
    send operation gets ``security: [basicAuth]`` (``type: http, scheme: basic``).
    Prism then still refuses a send without credentials (401): the requirement
    moved, it was not dropped.
S2. (tightening) The ``to`` pattern is anchored as in V2.
S3. The JSON answer of send-an-sms is ``anyOf`` ``SMS``/``Error`` instead of ``oneOf``:
    the two schemas require nothing and share their properties, so every body
    matches both and Prism, which validates its own answers under ``--errors``,
    answered every send with a 500 ("must match exactly one schema in oneOf").

Not validated (the 2021 Vonage spec predates it and leaves its bodies open):
``advanced_machine_detection`` on create-call passes unchecked; the Vonage tests
list it by name (``NEWER_THAN_VOICE_SPEC``) so no other unknown field can pass.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

Spec = dict[str, Any]

TWILIO_SPEC = "twilio_api_v2010.json"
TWILIO_TASKROUTER_SPEC = "twilio_taskrouter_v1.json"
VONAGE_VOICE_SPEC = "vonage_voice.yml"
VONAGE_SMS_SPEC = "vonage_sms.yml"

FORM = "application/x-www-form-urlencoded"
VONAGE_ENDPOINT_TYPES = {
    "EndpointPhoneTo": "phone",
    "EndpointPhoneFrom": "phone",
    "EndpointSip": "sip",
    "EndpointWebsocket": "websocket",
    "EndpointVBCExtension": "vbc",
}
UNANCHORED_NUMBER = "\\d{7,15}"
ANCHORED_NUMBER = "^\\d{7,15}$"


class SpecPatchError(AssertionError):
    """The spec no longer has the shape a patch expects: review the patch."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SpecPatchError(message)


# --- loading ---------------------------------------------------------------------------


def load_spec(path: Path, node_root: Path) -> Spec:
    """A spec as a dict: JSON directly, YAML through Prism's own parser (node)."""
    if path.suffix == ".json":
        loaded = json.loads(path.read_text(encoding="utf-8"))
    else:
        script = (
            "const y = require('@stoplight/yaml'); const fs = require('fs');"
            "process.stdout.write(JSON.stringify(y.parse(fs.readFileSync(process.argv[1], 'utf8'))));"
        )
        result = subprocess.run(
            ["node", "-e", script, str(path)],
            cwd=node_root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        _expect(result.returncode == 0, f"cannot parse {path.name} with @stoplight/yaml: {result.stderr.strip()}")
        loaded = json.loads(result.stdout)
    _expect(isinstance(loaded, dict) and "paths" in loaded, f"{path.name} is not an OpenAPI document")
    spec: Spec = loaded
    return spec


# --- Twilio ----------------------------------------------------------------------------


def patch_twilio(original: Spec) -> Spec:
    spec = copy.deepcopy(original)
    encoded = 0
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            media = operation["requestBody"].get("content", {}).get(FORM)
            if media is None:
                continue
            properties = media.get("schema", {}).get("properties", {})
            arrays = [name for name, schema in properties.items() if schema.get("type") == "array"]
            if arrays:
                encoding = media.setdefault("encoding", {})
                for name in arrays:  # T1
                    encoding.setdefault(name, {}).update(style="form", explode=True)
                encoded += 1
    calls = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Calls.json"]["post"]
    call_fields = calls["requestBody"]["content"][FORM]["schema"]["properties"]
    _expect(call_fields.get("StatusCallbackEvent", {}).get("type") == "array", "StatusCallbackEvent is no array")
    _expect(encoded > 0, "no form body with an array field: T1 is obsolete")
    return spec


# --- Vonage ----------------------------------------------------------------------------


def _anchor_number(schema: dict[str, Any], where: str) -> None:
    _expect(schema.get("pattern") == UNANCHORED_NUMBER, f"{where} pattern changed: {schema.get('pattern')!r}")
    schema["pattern"] = ANCHORED_NUMBER


def patch_vonage_voice(original: Spec) -> Spec:
    spec = copy.deepcopy(original)
    schemas = spec["components"]["schemas"]
    for name, value in VONAGE_ENDPOINT_TYPES.items():  # V1
        type_schema = schemas[name]["properties"]["type"]
        _expect(type_schema.get("type") == "string", f"{name}.type is not a string")
        _expect("enum" not in type_schema, f"{name}.type already has an enum: V1 is obsolete")
        _expect(f"`{value}`" in type_schema.get("description", ""), f"{name}.type no longer says it must be {value}")
        type_schema["enum"] = [value]
    _anchor_number(schemas["AddressE164"], "AddressE164")  # V2
    conversation = schemas["conversation_uuid"]  # V3
    _expect(conversation.get("format") == "uuid", "conversation_uuid is no longer format uuid: V3 is obsolete")
    _expect(str(conversation.get("example", "")).startswith("CON-"), "conversation_uuid example changed: review V3")
    del conversation["format"]
    return spec


def patch_vonage_sms(original: Spec) -> Spec:
    spec = copy.deepcopy(original)
    operation = spec["paths"]["/{format}"]["post"]
    _expect(operation.get("operationId") == "send-an-sms", "the SMS path no longer holds send-an-sms")
    _expect("security" not in operation and "security" not in spec, "the SMS spec now declares security: review S1")
    schema = operation["requestBody"]["content"][FORM]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    required = schema.get("required", [])
    _expect("api_key" in required, "NewMessage no longer requires api_key: review S1")
    schema["required"] = [name for name in required if name != "api_key"]  # S1
    schemes = spec.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["basicAuth"] = {"type": "http", "scheme": "basic"}
    operation["security"] = [{"basicAuth": []}]
    _anchor_number(schema["properties"]["to"], "NewMessage.to")  # S2
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]  # S3
    _expect(
        [part.get("$ref", "").rsplit("/", 1)[-1] for part in answer.get("oneOf", [])] == ["SMS", "Error"],
        "the send-an-sms answer is no longer oneOf SMS/Error: review S3",
    )
    answer["anyOf"] = answer.pop("oneOf")
    return spec


# --- writing ---------------------------------------------------------------------------

PATCHES: dict[str, Callable[[Spec], Spec]] = {
    TWILIO_SPEC: patch_twilio,
    TWILIO_TASKROUTER_SPEC: copy.deepcopy,  # served as it is (no patch needed)
    VONAGE_VOICE_SPEC: patch_vonage_voice,
    VONAGE_SMS_SPEC: patch_vonage_sms,
}


def patched_path(name: str, out_dir: Path) -> Path:
    return out_dir / f"{Path(name).stem}.patched.json"


def write_patched(name: str, specs: Path, out_dir: Path, node_root: Path) -> Path:
    """Patch ``specs/name`` into ``out_dir`` and return the patched file."""
    original = load_spec(specs / name, node_root)
    patched = PATCHES[name](original)
    target = patched_path(name, out_dir)
    target.write_text(json.dumps(patched), encoding="utf-8")
    return target


# --- reading ---------------------------------------------------------------------------


def body_fields(spec: Spec, path: str, method: str, media_type: str) -> set[str]:
    """Every property name the operation's request body may have, through ``$ref``,
    ``allOf``, ``oneOf`` and ``anyOf``: what Prism cannot check for form bodies."""
    schema = spec["paths"][path][method]["requestBody"]["content"][media_type]["schema"]
    return _property_names(spec, schema)


def _property_names(spec: Spec, schema: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        _expect(schema["$ref"].startswith("#/"), f"external $ref {schema['$ref']}")
        target: Any = spec
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        return _property_names(spec, target)
    names = set(schema.get("properties", {}))
    for combinator in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(combinator, []):
            names |= _property_names(spec, part)
    return names
