"""The `survey` command group."""
from flask.cli import FlaskGroup


def init_app(app):
    """Register the project's commands on the app's CLI."""


def create_cli_app():
    """Create the app for the command line."""
    from survey import create_app
    return create_app()


def main():
    """Run the `survey` command group (Flask's CLI with our app)."""
    FlaskGroup(create_app=create_cli_app, help="survey: questionnaires for the collaborator network.")()
