"""``flask --app wsgi callbacks …``: init-db, seed-demo, create-admin, create-api-key, demo-admin, queue
import/export, person export/erase, backup, downgrade-db, worker."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.demo_site import demo_page_origin
from infra import context
from infra.account_models import ConsoleUser
from infra.audit import audit
from infra.backup import BackupNotPossible, backup_sqlite
from infra.json_input import loads
from infra.migrate import DatabaseNotSupported, current_revision, downgrade, upgrade
from infra.models import Queue
from scheduler.errors import DomainError
from scheduler.phone import parse_phone
from services.accounts import API_KEY_ROLES, create_api_key, create_user, set_password
from services.demo_activity import seed_activity
from services.personal_data import erase_person, export_person
from services.queue_documents import export_queue, import_queue, parse_queue_document
from services.queues import get_queue

DEMO_QUEUE = Path(__file__).with_name("demo_queue.json")
DEMO_ADMIN = "admin@example.com"

callbacks_cli = AppGroup("callbacks", help="Callback scheduler administration.")
queue_cli = AppGroup("queue", help="Queues as code: import and export JSON documents.")
callbacks_cli.add_command(queue_cli)


def _fail(error: DomainError) -> None:
    click.echo(f"error: {error.type}: {error.message}", err=True)
    for field, problem in error.details.items():
        click.echo(f"  {field}: {problem}", err=True)
    sys.exit(2)


@callbacks_cli.command("init-db")
def init_db() -> None:
    """Create or migrate the database to the latest schema."""
    try:
        upgrade(context.db().engine)
    except DatabaseNotSupported as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"database ready: {context.db().engine.url.render_as_string(hide_password=True)}")


@callbacks_cli.command("downgrade-db")
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True, help="Migrations to undo.")
@click.option("--to", "revision", default=None, help="Or: the revision to go down to (an Alembic revision id).")
def downgrade_db(steps: int, revision: str | None) -> None:
    """Migrate the database down (one migration by default), to go back to an older release."""
    engine = context.db().engine
    downgrade(engine, revision or f"-{steps}")
    click.echo(f"database at revision {current_revision(engine)}")


def _import(document: object) -> None:
    try:
        doc = parse_queue_document(document)
        with context.db().write() as session:
            queue, created = import_queue(session, doc, context.now())
            click.echo(f"queue {queue.key!r} {'created' if created else 'updated'}")
    except DomainError as error:
        _fail(error)


@callbacks_cli.command("seed-demo")
def seed_demo() -> None:
    """Create (or reset the settings of) the demo queue 'support'. Its widget allows the
    demo page's other name at this service's port (PUBLIC_BASE_URL): make run on any port."""
    document = json.loads(DEMO_QUEUE.read_text(encoding="utf-8"))
    document["widget"]["allowed_origins"] = [demo_page_origin(context.settings().public_base_url)]
    _import(document)


@callbacks_cli.command("seed-demo-crm")
def seed_demo_crm() -> None:
    """Subscribe the simulator's stand-in CRM (/simulator/crm) to the demo queue's events (once)."""
    from events.demo_receiver import ensure_demo_subscription
    from events.targets import app_targets

    settings = context.settings()
    try:
        with context.db().write() as session:
            outcome = ensure_demo_subscription(session, settings.public_base_url, context.now(), app_targets())
    except DomainError as error:  # its address is not in EVENT_TARGETS_ALLOWED
        _fail(error)
        return
    where = settings.public_base_url.rstrip("/") + "/simulator/crm"
    said = {"made": "made", "moved": "moved to this address", "kept": "already there"}[outcome]
    click.echo(f"demo CRM subscription: {said}, events go to {where}")


@callbacks_cli.command("seed-demo-activity")
def seed_demo_activity() -> None:
    """A week of made-up past callbacks for the demo queue (once), for the console's reports."""
    with context.db().write() as session:
        made = seed_activity(session, get_queue(session, "support"), context.now())
    click.echo(f"demo activity: {made} past callbacks" if made else "demo activity: already there")


@callbacks_cli.command("create-admin")
@click.option("--email", required=True, help="The admin's email (their sign-in name).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="At least 12 characters.")
def create_admin(email: str, password: str) -> None:
    """Create the first admin of the supervisor console (/console)."""
    try:
        with context.db().write() as session:
            user = create_user(session, email, password, "admin", context.now())
            audit(session, "cli", "user.create", user.email, context.now(), after={"role": "admin"})
        click.echo(f"admin {user.email} created: sign in at {context.settings().public_base_url}/console/")
    except DomainError as error:
        _fail(error)


@callbacks_cli.command("create-api-key")
@click.option("--name", required=True, help="What uses it (a CRM, a site): shown in the console.")
@click.option("--role", type=click.Choice(API_KEY_ROLES), default="client", show_default=True)
def create_api_key_command(name: str, role: str) -> None:
    """Create an API key (as the console's API keys page does) and print it, once: for an
    install provisioned without a browser. Only its hash is kept."""
    try:
        with context.db().write() as session:
            key, _ = create_api_key(session, name, "cli", context.now(), role=role)
    except DomainError as error:
        _fail(error)
    click.echo(key)


@callbacks_cli.command("demo-admin")
def demo_admin() -> None:
    """Create the demo admin (admin@example.com) with a new random password, or give the
    existing one a new password, and print it. For `make run` only: not for production."""
    password = secrets.token_urlsafe(12)
    with context.db().write() as session:
        user = session.scalars(select(ConsoleUser).where(ConsoleUser.email == DEMO_ADMIN)).first()
        if user is None:
            create_user(session, DEMO_ADMIN, password, "admin", context.now())
        else:
            set_password(user, password)
            user.role, user.active = "admin", True
    click.echo(f"  Console:    {context.settings().public_base_url}/console/  {DEMO_ADMIN} / {password}")
    click.echo("              (a new password at every make run: only this one is valid now)")


@queue_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def queue_import(file: click.File) -> None:
    """Create or replace a queue from a JSON document (- reads standard input)."""
    try:
        document = loads(file.read())  # type: ignore[attr-defined]
    except ValueError as exc:
        click.echo(f"error: {getattr(file, 'name', 'input')} is not valid JSON: {exc}", err=True)
        sys.exit(2)
    _import(document)


@queue_cli.command("export")
@click.argument("key")
def queue_export(key: str) -> None:
    """Print a queue as a JSON document that `queue import` accepts."""
    try:
        with context.db().read() as session:
            click.echo(json.dumps(export_queue(get_queue(session, key)), indent=2, ensure_ascii=False))
    except DomainError as error:
        _fail(error)


person_cli = AppGroup("person", help="A person's data: export it, or erase it (by phone number).")
callbacks_cli.add_command(person_cli)


def _person_phone(raw: str, region: str | None) -> str:
    """The number in E.164: national numbers are read in --region, else the demo queue's
    region (GB when there is no demo queue)."""
    if region is None:
        with context.db().read() as session:
            region = session.scalar(select(Queue.region).where(Queue.key == "support")) or "GB"
    return parse_phone(raw, region)


@person_cli.command("export")
@click.argument("phone")
@click.option("--region", default=None, help="Region to read a national number in (default: the demo queue's, GB).")
def person_export(phone: str, region: str | None) -> None:
    """Print everything stored about a number as JSON."""
    try:
        number = _person_phone(phone, region)
        with context.db().read() as session:
            document = export_person(session, number, context.settings().secret_key)
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    except DomainError as error:
        _fail(error)


@person_cli.command("erase")
@click.argument("phone")
@click.option("--region", default=None, help="Region to read a national number in (default: the demo queue's, GB).")
def person_erase(phone: str, region: str | None) -> None:
    """Cancel a number's live callbacks and remove it everywhere but its opt-out."""
    try:
        number = _person_phone(phone, region)
        with context.db().write() as session:
            counts = erase_person(session, number, context.now(), "cli", context.settings().secret_key)
        click.echo("erased: " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items()))
    except DomainError as error:
        _fail(error)


@callbacks_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def backup(path: Path) -> None:
    """Copy a SQLite database to PATH while the app runs (SQLite's online backup); for
    PostgreSQL use pg_dump (docs/operations.md)."""
    try:
        pages = backup_sqlite(context.db().engine, path)
    except BackupNotPossible as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    click.echo(f"backup written: {path} ({pages} pages)")


@callbacks_cli.command("worker")
@click.option("--once", is_flag=True, help="Run every tick once and exit (for cron or tests).")
def worker(once: bool) -> None:
    """Run the background worker: the periodic ticks, in this process only."""
    from app.worker import Worker

    extensions = current_app.extensions
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    Worker(extensions["db"], extensions["clock"], extensions["settings"], extensions["providers"], app).run(once=once)
