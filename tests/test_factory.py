"""The application factory and its configuration sources."""

from survey import create_app


def test_config_from_test_dict(app):
    """The test dict overrides the defaults."""
    assert app.testing
    assert app.config["SECRET_KEY"] == "test-secret"


def test_defaults_without_test_config(monkeypatch, tmp_path):
    """Without a test dict the app is not in testing mode and uses config.py defaults."""
    monkeypatch.setenv("SURVEY_DATABASE_URL", "sqlite:///" + str(tmp_path / "x.sqlite3"))
    app = create_app()
    assert not app.testing
    assert app.config["TIMEZONE"] == "Asia/Ho_Chi_Minh"
    assert app.config["BABEL_DEFAULT_LOCALE"] == "vi"


def test_environment_overrides(monkeypatch, tmp_path):
    """SURVEY_* variables override config.py."""
    monkeypatch.setenv("SURVEY_BASE_URL", "https://khaosat.example.vn")
    monkeypatch.setenv("SURVEY_DATABASE_URL", "sqlite:///" + str(tmp_path / "y.sqlite3"))
    app = create_app()
    assert app.config["BASE_URL"] == "https://khaosat.example.vn"
    assert app.config["DATABASE_URL"].endswith("y.sqlite3")


def test_default_database_is_in_instance_folder(monkeypatch, tmp_path):
    """With no URL configured the database is a SQLite file in the instance folder."""
    monkeypatch.delenv("SURVEY_DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    assert app.config["DATABASE_URL"] == "sqlite:///" + app.instance_path + "/survey.sqlite3"
