"""A wheel install (not editable) still finds its templates, static files, config and catalogs."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = r"""
import survey, sys
from survey import create_app
from survey.db import migrate
assert "site-packages" in survey.__file__ and "/work/" not in survey.__file__.replace(sys.prefix, ""), survey.__file__
app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + sys.argv[1]})
migrate()
client = app.test_client()
login = client.get("/login")
assert login.status_code == 200 and "Đăng nhập" in login.get_data(as_text=True), login.status_code
assert client.get("/static/style.css").status_code == 200
print("ok", survey.__file__)
"""


def test_wheel_install_finds_templates_and_static(tmp_path):
    """Build the wheel, install it into a fresh venv and render a page from it."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(ROOT)], check=True, cwd=tmp_path)
    wheel = next(dist.glob("survey-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, cwd=tmp_path)
    result = subprocess.run([str(python), "-c", CHECK, str(tmp_path / "w.sqlite3")],
                            check=False, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(venv) in result.stdout
