"""Queues in the console: a queue's settings as its JSON document (the same document as
``callbacks queue import``, docs/queues.md), edited and validated in place, or a new queue
made from one. Changes re-plan its future slots at once and go to the audit log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.cli import DEMO_QUEUE
from app.error_statuses import http_status
from console.blueprint import console, requires
from console.i18n import N_, _
from infra import context
from infra.audit import audit
from infra.json_input import loads
from infra.models import Queue
from scheduler.errors import DomainError
from services.queue_documents import export_queue, import_queue, parse_queue_document
from services.queues import get_queue

MAX_DOCUMENT = 200_000  # characters
# A refused document's error as the console says it, by the error's type (services/queue_documents.py
# and services/queues.py); another type is shown in its own (English) words.
DOCUMENT_ERRORS = {
    "validation_error": N_("The queue document is not valid."),
    "queue_not_found": N_("No queue has that key."),
}


def document_error(error: DomainError) -> str:
    return _(DOCUMENT_ERRORS[error.type]) if error.type in DOCUMENT_ERRORS else error.message


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
    template.update(key="new-queue", name=_("New queue"), inbound_numbers=[])
    return _page(None, json.dumps(template, indent=2, ensure_ascii=False))


@console.post("/queues")
@requires("supervisor")
def save_queue() -> ResponseReturnValue:
    """Create or replace a queue from the posted document; the errors per field otherwise."""
    text = request.form.get("document", "")[:MAX_DOCUMENT]
    key = request.form.get("key") or None  # the queue being edited (None: a new one)
    try:
        document = loads(text)
    except ValueError as error:
        return _page(key, text, {"document": _("not valid JSON: %(error)s", error=str(error))}, 422)
    try:
        doc = parse_queue_document(document)
        if key is not None and doc.key != key:
            return _page(key, text, {"key": _("the key of a queue cannot change (make a new queue instead)")}, 422)
        with context.db().write() as session:
            existing = session.scalars(select(Queue).where(Queue.key == doc.key)).first()
            if key is None and existing is not None:
                return _page(key, text, {"key": _("a queue %(key)s exists already", key=repr(doc.key))}, 422)
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
        return _page(key, text, error.details or {"document": document_error(error)}, http_status(error))
    return redirect(url_for("console.queue_document", key=doc.key, saved=1), 303)


def save_edited(
    key: str,
    edit: Callable[[dict[str, Any]], dict[str, Any]],
    action: str,
    audited: Callable[[dict[str, Any], dict[str, Any]], Iterable[str]],
) -> tuple[dict[str, Any], DomainError | None]:
    """Save a form's change to a queue: ``edit`` makes the new document from the current
    one, which is then checked as a whole, imported (future slots re-planned) and audited
    with the top-level settings ``audited`` names, before and after, in one transaction.
    Returns the document asked for and the error that refused it, if any."""
    wanted: dict[str, Any] = {}
    try:
        with context.db().write() as session:
            before = export_queue(get_queue(session, key))
            wanted = edit(before)
            queue, _ = import_queue(session, parse_queue_document(wanted), context.now())
            after = export_queue(queue)
            keys = sorted(audited(before, after))
            audit(
                session,
                str(g.user.email),
                action,
                key,
                context.now(),
                {k: before.get(k) for k in keys},
                {k: after[k] for k in keys},
            )
    except DomainError as error:
        if not wanted:  # no such queue: not a form's error (the 404 page)
            raise
        return wanted, error
    return wanted, None
