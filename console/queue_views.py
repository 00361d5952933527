"""Queues in the console: a queue's settings as its JSON document (the same document as
``callbacks queue import``, docs/queues.md), edited and validated in place, or a new queue
made from one. Changes re-plan its future slots at once and go to the audit log."""

from __future__ import annotations

import json
from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app import context
from app.cli import DEMO_QUEUE
from app.models import Queue
from app.queue_documents import export_queue, import_queue, parse_queue_document
from app.queues import get_queue
from console.accounts import audit
from console.views import console, requires
from scheduler.errors import DomainError

MAX_DOCUMENT = 200_000  # characters


def _page(key: str | None, text: str, errors: dict[str, Any] | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template("console_queue.html", key=key, text=text, errors=errors or {}), status


@console.get("/queues/<key>")
@requires("viewer")
def queue_document(key: str) -> ResponseReturnValue:
    with context.db().read() as session:
        document = export_queue(get_queue(session, key))
    return _page(key, json.dumps(document, indent=2, ensure_ascii=False))


@console.get("/queues/new")
@requires("supervisor")
def new_queue() -> ResponseReturnValue:
    template = json.loads(DEMO_QUEUE.read_text(encoding="utf-8"))
    template.update(key="new-queue", name="New queue", inbound_numbers=[])
    return _page(None, json.dumps(template, indent=2, ensure_ascii=False))


@console.post("/queues")
@requires("supervisor")
def save_queue() -> ResponseReturnValue:
    """Create or replace a queue from the posted document; the errors per field otherwise."""
    text = request.form.get("document", "")[:MAX_DOCUMENT]
    key = request.form.get("key") or None  # the queue being edited (None: a new one)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return _page(key, text, {"document": f"not valid JSON: {error}"}, 422)
    try:
        doc = parse_queue_document(document)
        if key is not None and doc.key != key:
            return _page(key, text, {"key": "the key of a queue cannot change (make a new queue instead)"}, 422)
        with context.db().write() as session:
            existing = session.scalars(select(Queue).where(Queue.key == doc.key)).first()
            if key is None and existing is not None:
                return _page(key, text, {"key": f"a queue {doc.key!r} exists already"}, 422)
            before = export_queue(existing) if existing is not None else None
            queue, created = import_queue(session, doc, context.now())
            after = export_queue(queue)
            audit(
                session,
                str(g.user.email),
                "queue.create" if created else "queue.update",
                queue.key,
                context.now(),
                before,
                after,
            )
    except DomainError as error:
        return _page(key, text, error.details or {"document": error.message}, error.http_status)
    return redirect(url_for("console.queue_document", key=doc.key, saved=1), 303)
