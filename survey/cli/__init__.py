"""The `survey` command group: accounts, wards, organisations, questionnaires, roster, backup."""

import functools
import json
import re
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from flask_babel import force_locale

from survey.auth.forms import USERNAME_MESSAGE, USERNAME_RULE
from survey.auth.passwords import weakness
from survey.cli import backup as backups
from survey.cli import demo, fake
from survey.db import database
from survey.i18n import gettext as _
from survey.i18n import role_word
from survey.models import ROLES, AuditEvent, Collaborator, Organisation, Questionnaire, User, Ward
from survey.network import roster
from survey.questionnaires import rules
from survey.questionnaires.file_format import FileError, export_questionnaire, import_questionnaire
from survey.respond.links import base_url, personal_link
from survey.security import hash_password
from survey.tallies import aggregates

MIN_PASSWORD = 8
CODE_LIMIT = 20
NAME_LIMIT = 200


def in_session(command):
    """Run a command in an app context, with a connection and the default language (no request)."""

    @with_appcontext
    @functools.wraps(command)
    def run(*args, **kwargs):
        with (
            database.connection_context(),
            force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]),
        ):
            return command(*args, **kwargs)

    return run


def fail(*lines):
    """Print lines to stderr and stop with exit status 1."""
    for line in lines:
        click.echo(line, err=True)
    raise SystemExit(1)


def write_stdout(data):
    """Write bytes to stdout untouched, so UTF-8 output does not depend on the terminal's locale."""
    click.echo(data, nl=False)  # click writes bytes to the binary stream as they are


def read_password():
    """Ask for a password twice: hidden on a terminal, one line each when piped on stdin."""
    if sys.stdin.isatty():
        return click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    first, second = sys.stdin.readline().rstrip("\r\n"), sys.stdin.readline().rstrip("\r\n")
    if first != second:
        fail(_("The two passwords differ."))
    return first


@click.command("create-user")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--organisation", metavar="CODE", help="Limit the account to one organisation.")
@in_session
def create_user_command(name, role, organisation):
    """Create an account (password asked twice)."""
    name = name.strip()  # a name pasted with a space logs in without it
    if not re.match(USERNAME_RULE, name) or len(name) > 80:
        fail(f"{USERNAME_MESSAGE} “{name}”")
    if User.name_taken(name):
        fail(_("An account named “%(name)s” already exists.", name=name))
    org = None
    if organisation:
        org = Organisation.get_or_none(Organisation.code == organisation)
        if org is None:
            fail(_("Unknown organisation code “%(code)s”.", code=organisation))
    password = read_password()
    if len(password) < MIN_PASSWORD:
        fail(_("The password must have at least %(count)s characters.", count=MIN_PASSWORD))
    if weakness(password, name):
        fail(str(weakness(password, name)))
    with database.atomic():
        User.create(
            username=name, password_hash=hash_password(password), role=role, organisation=org
        )
        AuditEvent.record(None, "user.create", name, role)
    click.echo(_("Created the %(role)s account “%(name)s”.", role=role_word(role), name=name))


def add_coded(model, action, code, name):
    """Create a ward or organisation with a new code; refuse a duplicate or malformed code."""
    code, name = code.strip(), name.strip()
    if not code or len(code) > CODE_LIMIT or any(c.isspace() for c in code):
        fail(
            _(
                "The code must be 1 to %(limit)s characters without spaces: “%(code)s”.",
                limit=CODE_LIMIT,
                code=code,
            )
        )
    if not name or len(name) > NAME_LIMIT:
        fail(_("The name must have 1 to %(limit)s characters.", limit=NAME_LIMIT))
    if model.select().where(model.code == code).exists():
        fail(_("The code “%(code)s” is already in use.", code=code))
    with database.atomic():
        model.create(code=code, name=name)
        AuditEvent.record(None, action, f"{code} {name}")
    click.echo(_("Added %(code)s %(name)s.", code=code, name=name))


wards_group = AppGroup("wards", help="Manage the wards.")
organisations_group = AppGroup("organisations", help="Manage the organisations.")
questionnaire_group = AppGroup("questionnaire", help="Import and export questionnaire files.")
collaborators_group = AppGroup("collaborators", help="Import and export the collaborator roster.")


@wards_group.command("add")
@click.argument("code")
@click.argument("name")
@in_session
def add_ward_command(code, name):
    """Add a ward: its new CODE and its NAME."""
    add_coded(Ward, "ward.create", code, name)


@organisations_group.command("add")
@click.argument("code")
@click.argument("name")
@in_session
def add_organisation_command(code, name):
    """Add an organisation: its new CODE and NAME."""
    add_coded(Organisation, "organisation.create", code, name)


def find_questionnaire(slug):
    """Return the questionnaire with this slug, or stop with a message."""
    questionnaire = Questionnaire.get_or_none(Questionnaire.slug == slug)
    if questionnaire is None:
        fail(_("There is no questionnaire “%(slug)s”.", slug=slug))
    return questionnaire


def load_json(path):
    """Read a UTF-8 JSON file, stopping with a message (line and column) if it cannot be read."""
    try:
        return json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        fail(_("%(path)s: not UTF-8 text (byte %(byte)s).", path=path, byte=error.start))
    except json.JSONDecodeError as error:
        fail(
            _(
                "%(path)s: invalid JSON at line %(line)s, column %(column)s: %(error)s.",
                path=path,
                line=error.lineno,
                column=error.colno,
                error=error.msg,
            )
        )


@questionnaire_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@in_session
def import_questionnaire_command(path):
    """Create a questionnaire from a JSON file."""
    data, problems = rules.parse(Path(path).read_bytes())
    try:
        if problems:
            raise FileError(problems)
        questionnaire = import_questionnaire(data)
    except FileError as error:
        fail(
            _(
                "%(path)s: nothing imported, %(count)s problem(s):",
                path=path,
                count=len(error.problems),
            ),
            *(f"  {problem}" for problem in error.problems),
        )
    AuditEvent.record(None, "questionnaire.import", questionnaire.slug)
    click.echo(
        _(
            "Imported the questionnaire “%(slug)s”: %(title)s",
            slug=questionnaire.slug,
            title=questionnaire.title,
        )
    )


@questionnaire_group.command("export")
@click.argument("slug")
@in_session
def export_questionnaire_command(slug):
    """Print a questionnaire as JSON (UTF-8)."""
    data = export_questionnaire(find_questionnaire(slug))
    write_stdout((json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


@collaborators_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@in_session
def import_collaborators_command(path):
    """Add collaborators from a CSV: all or none."""
    preview = roster.read(Path(path).read_bytes())
    if not preview.ok:
        fail(
            _(
                "%(path)s: nothing imported, %(count)s problem(s):",
                path=path,
                count=len(preview.problems),
            ),
            *(
                _("line %(line)s: %(message)s", line=line, message=message)
                for line, message in preview.problems
            ),
        )
    with database.atomic():
        count = roster.import_preview(preview)
        AuditEvent.record(None, "collaborator.import", f"{count} from {Path(path).name}")
    click.echo(_("Imported %(count)s collaborator(s).", count=count))


@collaborators_group.command("export")
@in_session
def export_collaborators_command():
    """Print the roster CSV with personal links."""
    write_stdout(roster.export_bytes(Collaborator.select().where(Collaborator.active)))


@click.command("demo")
@in_session
def demo_command():
    """Seed demo data (safe to run again)."""
    seeded = demo.seed()
    click.echo(
        _(
            "Added %(orgs)s organisation(s), %(wards)s ward(s), %(people)s collaborator(s), "
            "%(questionnaires)s questionnaire(s).",
            orgs=len(seeded.organisations),
            wards=len(seeded.wards),
            people=len(seeded.collaborators),
            questionnaires=int(seeded.questionnaire is not None),
        )
    )
    if seeded.admin_password:
        click.echo(
            _(
                "Account admin, password %(password)s (shown only this once).",
                password=seeded.admin_password,
            )
        )
    click.echo(_("Open %(url)s", url=base_url() + "/login"))
    click.echo(_("Personal links of a few collaborators:"))
    for person in demo.showcase_collaborators():
        click.echo(f"  {person.name}: {personal_link(person)}")


@click.command("fake-responses")
@click.argument("slug")
@click.argument("count", type=click.IntRange(min=1))
@click.option("--seed", type=int, help="Seed for the random choices.")
@in_session
def fake_responses_command(slug, count, seed):
    """Store COUNT random valid responses."""
    questionnaire = find_questionnaire(slug)
    try:
        stored = fake.generate(questionnaire, count, seed=seed)
    except fake.TooFewCollaborators as error:
        if error.available == 0:
            fail(
                _(
                    "No responses stored: “%(slug)s” has no open link, so fake responses come "
                    "from its targeted active collaborators, and none can answer.",
                    slug=slug,
                )
            )
        fail(
            _(
                "No responses stored: “%(slug)s” has no open link, so fake responses come from "
                "its targeted active collaborators, and only %(available)s of them can still "
                "answer (each answers once). Ask for at most %(available)s.",
                slug=slug,
                available=error.available,
            )
        )
    except fake.FakeError:
        fail(_("No responses stored: there is no active ward or organisation to answer from."))
    AuditEvent.record(None, "response.fake", f"{stored} to {slug}")
    click.echo(_("Stored %(count)s response(s) to “%(slug)s”.", count=stored, slug=slug))


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@in_session
def backup_command(path):
    """Write a consistent backup of the database."""
    try:
        written = backups.backup(path)
    except backups.BackupError as error:
        fail(_("No backup written: %(reason)s.", reason=str(error)))
    AuditEvent.record(None, "database.backup", str(written))
    click.echo(_("Backup written to %(path)s.", path=str(written)))


@click.command("rebuild-tallies")
@in_session
def rebuild_tallies_command():
    """Count the running tallies again from every answer, days in today's SURVEY_TIMEZONE."""
    name, offset = aggregates.rebuild()
    AuditEvent.record(None, "tallies.rebuild", f"{name} {offset:+d} min")
    hours, minutes = divmod(abs(offset), 60)
    sign = "-" if offset < 0 else "+"
    click.echo(
        _(
            "Tallies counted again from every answer; their days now run from midnight to "
            "midnight in %(zone)s (UTC%(offset)s).",
            zone=name,
            offset=f"{sign}{hours:02d}:{minutes:02d}",
        )
    )


COMMANDS = [
    create_user_command,
    wards_group,
    organisations_group,
    questionnaire_group,
    collaborators_group,
    demo_command,
    fake_responses_command,
    backup_command,
    rebuild_tallies_command,
]


def init_app(app):
    """Register the project's commands on the app's CLI."""
    for command in COMMANDS:
        app.cli.add_command(command)


def create_cli_app():
    """Create the app for the command line."""
    from survey import create_app

    return create_app()


def main():
    """Run the `survey` command group (Flask's CLI with our app)."""
    FlaskGroup(
        create_app=create_cli_app, help="survey: questionnaires for the collaborator network."
    )()
