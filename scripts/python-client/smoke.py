"""Drives the generated Python client against a running gateway (scripts/python-client.sh).

Imports every generated module (openapi-python-client 0.29.1 once emitted an events module that
could not be imported), then sends the documented first-hour business as one batch of events,
the same batch again (every event a duplicate: ids are idempotent), a check, and a bad check
whose typed error code must come back as the ErrorCode enum.
"""
import importlib
import pkgutil
import sys

import httpx

import trellis_client
from trellis_client import AuthenticatedClient
from trellis_client.api.events import apply_events
from trellis_client.api.questions import check
from trellis_client.models import CheckBody, ErrorCode, ErrorResponse, EventBatch, Permissionship

base_url, key = sys.argv[1], sys.argv[2]

modules = [m.name for m in pkgutil.walk_packages(trellis_client.__path__, "trellis_client.")]
for name in modules:
    importlib.import_module(name)
print(f"imported {len(modules)} modules")

doc = httpx.get(f"{base_url}/openapi.json").json()
events_op = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
batch = EventBatch.from_dict(events_op["examples"]["first-hour business"]["value"])
assert len(batch.events) > 5, "the example batch holds events"
assert type(batch.events[0]).__name__ == "OrganizationCreated", type(batch.events[0]).__name__

client = AuthenticatedClient(base_url=base_url, token=key)
first = apply_events.sync_detailed(client=client, body=batch)
assert first.status_code == 200, (first.status_code, first.content)
assert {r.status.value for r in first.parsed.results} == {"applied"}, first.parsed
again = apply_events.sync_detailed(client=client, body=batch)
assert {r.status.value for r in again.parsed.results} == {"duplicate"}, again.parsed
print(f"applied {len(first.parsed.results)} events, resent as duplicates")

question = doc["paths"]["/v1/check"]["post"]["requestBody"]["content"]["application/json"]["example"]
answer = check.sync(client=client, body=CheckBody.from_dict(question))
assert not isinstance(answer, ErrorResponse), answer
assert isinstance(answer.permissionship, Permissionship), answer
assert answer.allowed is True and answer.permissionship == Permissionship.HAS_PERMISSION, answer
print(f"check {question}: {answer.permissionship.value}")

refused = check.sync(client=client, body=CheckBody.from_dict({**question, "resource": "not a reference"}))
assert isinstance(refused, ErrorResponse), refused
assert isinstance(refused.code, ErrorCode) and refused.code == ErrorCode.GW_VALIDATION, refused
print(f"bad check: {refused.code.value} ({refused.field})")

anonymous = check.sync_detailed(client=trellis_client.Client(base_url=base_url), body=CheckBody.from_dict(question))
assert anonymous.status_code == 401 and anonymous.parsed.code == ErrorCode.GW_UNAUTHORIZED, anonymous
print("python client: ok")
