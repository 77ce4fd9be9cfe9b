"""The `survey` commands: accounts, wards, organisations, questionnaire files, roster, demo."""

import copy
import json
import os
import shutil
import sqlite3
import subprocess

import pytest
from werkzeug.security import check_password_hash

from survey.cli import demo
from survey.models import (
    AuditEvent,
    Collaborator,
    Organisation,
    Question,
    Questionnaire,
    Response,
    User,
    Ward,
)
from survey.questionnaires.file_format import export_questionnaire
from tests.helpers import SAMPLE

HEADER = "name,phone,organisation,ward\n"


@pytest.fixture(autouse=True)
def english(app):
    """Print command messages in English, so these tests read the msgids."""
    app.config["BABEL_DEFAULT_LOCALE"] = "en"


def write(tmp_path, name, data):
    """Write a file for a command to read; return its path as a string."""
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


# --- create-user -------------------------------------------------------------------------------


def test_create_user_with_piped_password(runner, db, network):
    result = runner.invoke(
        args=["create-user", "lan", "--role", "coordinator", "--organisation", "MTTQ"],
        input="long-enough\nlong-enough\n",
    )
    assert result.exit_code == 0, result.output
    user = User.get(User.username == "lan")
    assert user.role == "coordinator" and user.organisation.code == "MTTQ"
    assert check_password_hash(user.password_hash, "long-enough")
    assert AuditEvent.select().where(AuditEvent.action == "user.create").count() == 1


@pytest.mark.parametrize(
    "args, password, message",
    [
        (["--role", "admin"], "long-enough\nother-one\n", "differ"),
        (["--role", "admin"], "short\nshort\n", "at least 8"),
        (["--role", "viewer", "--organisation", "NOPE"], "long-enough\nlong-enough\n", "NOPE"),
    ],
)
def test_create_user_refusals(runner, db, network, args, password, message):
    result = runner.invoke(args=["create-user", "lan", *args], input=password)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not User.select().where(User.username == "lan").exists()


def test_create_user_refuses_duplicate_and_unknown_role(runner, db):
    assert (
        runner.invoke(
            args=["create-user", "an", "--role", "admin"], input="river-lamp-41\nriver-lamp-41\n"
        ).exit_code
        == 0
    )
    again = runner.invoke(
        args=["create-user", "an", "--role", "viewer"], input="password-2\npassword-2\n"
    )
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert User.get(User.username == "an").role == "admin"
    bad_role = runner.invoke(
        args=["create-user", "binh", "--role", "boss"], input="river-lamp-41\nriver-lamp-41\n"
    )
    assert bad_role.exit_code == 2 and "boss" in bad_role.output
    assert User.select().count() == 1


# --- wards and organisations -------------------------------------------------------------------


@pytest.mark.parametrize("group, model", [("wards", Ward), ("organisations", Organisation)])
def test_add_coded_and_refuse_duplicate(runner, db, group, model):
    result = runner.invoke(args=[group, "add", "X1", "Tên có dấu"])
    assert result.exit_code == 0, result.output
    assert model.get(model.code == "X1").name == "Tên có dấu"
    again = runner.invoke(args=[group, "add", "X1", "Khác"])
    assert again.exit_code == 1 and "X1" in again.stderr
    spaced = runner.invoke(args=[group, "add", "X 2", "Khác"])
    assert spaced.exit_code == 1
    assert model.select().count() == 1
    assert AuditEvent.select().count() == 1


# --- questionnaire files -----------------------------------------------------------------------


def test_questionnaire_import_and_export_round_trip(runner, db, network, tmp_path):
    result = runner.invoke(
        args=["questionnaire", "import", write(tmp_path, "q.json", json.dumps(SAMPLE))]
    )
    assert result.exit_code == 0, result.output
    exported = runner.invoke(args=["questionnaire", "export", "sample"])
    assert exported.exit_code == 0
    assert "Ý kiến về chỉnh trang đô thị" in exported.stdout  # UTF-8, not \u escapes
    data = json.loads(exported.stdout)
    assert data == export_questionnaire(Questionnaire.get(Questionnaire.slug == "sample"))
    data["slug"] = "copy"
    assert (
        runner.invoke(
            args=["questionnaire", "import", write(tmp_path, "copy.json", json.dumps(data))]
        ).exit_code
        == 0
    )
    again = json.loads(runner.invoke(args=["questionnaire", "export", "copy"]).stdout)
    assert again == data


def test_questionnaire_export_unknown_slug(runner, db):
    result = runner.invoke(args=["questionnaire", "export", "nope"])
    assert result.exit_code == 1 and "nope" in result.stderr


def bad_sample(change):
    """Return a copy of the sample questionnaire file spoiled by change."""
    data = copy.deepcopy(SAMPLE)
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"slug": "x",\n  "title": }', "line 2, column 12"),
        (bad_sample(lambda d: d["questions"][1].update(kind="dropdown")), "questions[1].kind"),
        (
            bad_sample(
                lambda d: d["questions"][1].update(
                    show_if={"question": "topics", "choice": "roads"}
                )
            ),
            "questions[1].show_if",
        ),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_questionnaire_import_refuses_bad_files(runner, db, network, tmp_path, text, expected):
    result = runner.invoke(args=["questionnaire", "import", write(tmp_path, "bad.json", text)])
    assert result.exit_code == 1
    assert expected in result.stderr
    assert Questionnaire.select().count() == 0 and Question.select().count() == 0


# --- collaborators -----------------------------------------------------------------------------


def test_collaborators_import_semicolons_with_bom(runner, db, network, tmp_path):
    before = Collaborator.select().count()
    text = "\ufeffName;Phone;Organisation;Ward\r\nNguyễn Thị Hoa;0903 222 333;doan;Phường 2\r\n"
    result = runner.invoke(args=["collaborators", "import", write(tmp_path, "r.csv", text)])
    assert result.exit_code == 0, result.output
    person = Collaborator.get(Collaborator.name == "Nguyễn Thị Hoa")
    assert (person.phone, person.organisation.code, person.ward.code) == (
        "0903222333",
        "DOAN",
        "P2",
    )
    assert Collaborator.select().count() == before + 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("nom,phone,organisation,ward\nAn,,MTTQ,P1\n", "line 1:"),
        (HEADER + "An,,MTTQ,P1\nBình,,MTTQ,P7\n", "line 3: Unknown or inactive ward “P7”"),
        (HEADER + "An,,MTTQ,P1\n,0903444555,MTTQ,P1\n", "line 3: The name is empty."),
        (HEADER + "An,0903444555,MTTQ,P1\nBình,0903-444-555,DOAN,P2\n", "line 3: The phone number"),
        (
            "name,phone,organisation,ward\nĐông,,MTTQ,P1\n".encode("cp1258"),
            "line 2: The file is not",
        ),
    ],
)
def test_collaborators_import_refusals(runner, db, network, tmp_path, text, expected):
    before = Collaborator.select().count()
    result = runner.invoke(args=["collaborators", "import", write(tmp_path, "r.csv", text)])
    assert result.exit_code == 1
    assert expected in result.stderr
    assert Collaborator.select().count() == before
    assert not AuditEvent.select().exists()


def test_collaborators_export(runner, db, network):
    result = runner.invoke(args=["collaborators", "export"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbfname,phone,organisation,ward,link\r\n")
    person = network["collaborators"][("P1", "MTTQ")]
    text = result.stdout_bytes.decode("utf-8")
    assert f"{person.name},{person.phone},MTTQ,P1,http://survey.test/c/{person.token}\r\n" in text
    assert text.count("http://survey.test/c/") == 4


# --- demo and fake responses -------------------------------------------------------------------


def counts():
    """Return the row counts the demo touches."""
    return [m.select().count() for m in (Organisation, Ward, Collaborator, Questionnaire, User)]


def test_demo_is_idempotent(runner, db):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert counts() == [6, 14, 12, 1, 1]
    assert "password" in first.output and "http://survey.test/login" in first.output
    person = Collaborator.get(Collaborator.phone == demo.COLLABORATORS[0][1])
    assert f"http://survey.test/c/{person.token}" in first.output
    assert Ward.get(Ward.code == "P15").name == "Phường 15"
    assert not Ward.select().where(Ward.code == "P03").exists()
    questionnaire = Questionnaire.get(Questionnaire.slug == demo.SAMPLE_SLUG)
    assert questionnaire.status == "open" and questionnaire.open_link
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert "password" not in second.output
    assert counts() == [6, 14, 12, 1, 1]


def test_fake_responses_command(runner, db, sample):
    result = runner.invoke(args=["fake-responses", "sample", "25", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert Response.select().count() == 25
    assert runner.invoke(args=["fake-responses", "nope", "5"]).exit_code == 1
    assert runner.invoke(args=["fake-responses", "sample", "0"]).exit_code == 2
    assert Response.select().count() == 25


# --- the real console script -------------------------------------------------------------------


def test_console_script(tmp_path):
    program = shutil.which("survey")
    assert program, "the `survey` console script is not installed (pip install -e .)"
    database = tmp_path / "cli.sqlite3"
    env = {
        **os.environ,
        "SURVEY_DATABASE_URL": f"sqlite:///{database}",
        "SURVEY_BABEL_DEFAULT_LOCALE": "en",
        "SURVEY_BASE_URL": "https://ctv.example.vn",
    }

    def survey(*args, stdin=""):
        """Run the console script; return the finished process."""
        return subprocess.run(
            [program, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    assert survey("init-db").returncode == 0
    assert survey("init-db").returncode == 0
    first = survey("demo")
    assert first.returncode == 0, first.stderr
    assert "https://ctv.example.vn/login" in first.stdout
    assert first.stdout.count("https://ctv.example.vn/c/") == 3
    second = survey("demo")
    assert second.returncode == 0, second.stderr
    assert "password" not in second.stdout
    made = survey("create-user", "hoa", "--role", "viewer", stdin="mat-khau-1\nmat-khau-1\n")
    assert made.returncode == 0, made.stderr
    refused = survey("create-user", "hoa", "--role", "viewer", stdin="mat-khau-1\nmat-khau-1\n")
    assert refused.returncode == 1
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM ward").fetchone() == (14,)
        assert conn.execute("SELECT count(*) FROM collaborator").fetchone() == (12,)
        assert conn.execute("SELECT username, role FROM user ORDER BY username").fetchall() == [
            ("admin", "admin"),
            ("hoa", "viewer"),
        ]
    conn.close()


def test_every_command_has_its_one_line_help(runner):
    listing = runner.invoke(args=["--help"]).output
    for name in (
        "backup",
        "collaborators",
        "create-user",
        "demo",
        "fake-responses",
        "organisations",
        "questionnaire",
        "wards",
    ):
        line = next(line for line in listing.splitlines() if line.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 10 and not line.endswith("...")
    assert "Print a questionnaire as JSON" in runner.invoke(args=["questionnaire", "--help"]).output
