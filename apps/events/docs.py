"""docs/events.md, generated from the catalogue (`python -m apps.events.docs > docs/events.md`).

A test checks the file matches, so the documentation cannot drift from the schemas.
"""

from __future__ import annotations

import json
import sys

from apps.events.catalogue import CATALOGUE

HEADER = """# Events and webhooks

Generated from `apps/events/catalogue.py` by `python -m apps.events.docs > docs/events.md`.

Every state change writes one event in its own transaction (the outbox). Each event is POSTed
to every enabled webhook endpoint whose `event_types` match (`invoice.finalized`, `invoice.*`,
`*`) and to the platform endpoint (`PLATFORM_WEBHOOK_URL`), and is listed by
`GET /api/v1/events/?after_sequence=N` for reconciliation.

## Envelope

```json
{"id": "<uuid>", "type": "invoice.finalized", "tenant": "<slug>", "sequence": 121,
 "created_at": "2026-11-25T09:30:00+00:00", "api_version": "v1", "data": {...}}
```

`sequence` increases per tenant in commit order, without gaps. `data` always carries the ids
concerned (and `account` where one applies); amounts are strings. Fields may be added at any
time: ignore the ones you do not know. Removing or renaming a field bumps the type's version.

Events are numbered when their transaction commits, so a reader of `after_sequence=N` never
misses an event that commits late: an event with number N+1 is only visible once every event
up to N is. (How: `publish()` inserts the event without a number and takes no lock; a deferred
constraint trigger, `events_event_number_at_commit`, takes the tenant's counter row at COMMIT
and numbers the transaction's events, so the counter is held only for the commit itself and
transactions of one tenant do not wait for each other while they run. A transaction that
rolls back was never numbered: no gaps.)

## Delivery

- Signed per [Standard Webhooks](https://www.standardwebhooks.com/): headers `webhook-id`
  (the same on every retry: de-duplicate on it), `webhook-timestamp`, `webhook-signature`
  (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the endpoint's `whsec_` secret).
  After `rotate-secret/` the old secret signs too (a second, space-separated signature) for 24 h.
- At least once. Answer 2xx within 10 s. Network errors, timeouts, 5xx, 408 and 429 are
  retried (honouring `Retry-After`) after 30 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h
  and 24 h, each up to 20 % longer (jitter, never shorter: 3.1 to 3.8 days in all), then the
  delivery fails. Other 4xx and 3xx fail at once (redirects are not followed). 410 Gone
  disables the endpoint at once; deliveries failing for over 3 days disable it too (so an
  endpoint failing through a whole schedule is disabled); both publish
  `webhook_endpoint.disabled`.
- Not in order: an endpoint may receive several deliveries at once (each in its own signed
  POST, several in flight per worker process) and a retry arrives after later events. Order
  by `sequence` when order matters.
- Batch mode (`batch_size` > 1): up to `batch_size` envelopes per POST as a JSON array,
  sent when full or `batch_window_seconds` after the oldest one; `webhook-id` is `batch_...`.
- Every attempt is logged (`/api/v1/webhook-deliveries/`, admin) and can be replayed.

## Types
"""


def render_markdown() -> str:
    parts = [HEADER]
    for name, entry in sorted(CATALOGUE.items()):
        schema = entry.schema
        fields = ", ".join(f"`{key}`" for key in schema["required"])
        parts.append(f"\n### `{name}` (v{entry.version})\n\n{entry.description}\n\nRequired in `data`: {fields}.\n")
        parts.append(f"\n```json\n{json.dumps(schema, indent=2)}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
