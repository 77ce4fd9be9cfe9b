"""A wheel install (not editable) still finds its templates, static files, config and catalogs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = r"""
import survey, sys
from survey import create_app
from survey.db import migrate
assert "site-packages" in survey.__file__, survey.__file__
assert "/work/" not in survey.__file__.replace(sys.prefix, ""), survey.__file__
assert not survey.__file__.startswith(sys.argv[2] + "/"), survey.__file__  # not the checkout
app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + sys.argv[1]})
migrate()
client = app.test_client()
login = client.get("/login")
assert login.status_code == 200 and "Đăng nhập" in login.get_data(as_text=True), login.status_code
assert client.get("/static/style.css").status_code == 200
print("ok", survey.__file__)
"""


def uv(*args, **kwargs):
    """Run uv (the tool that wrote uv.lock; `uv run` names itself in $UV) and fail on its error."""
    exe = os.environ.get("UV") or shutil.which("uv")
    assert exe, "uv is not on PATH: python3 -m pip install uv"
    return subprocess.run([exe, *args], check=True, timeout=600, **kwargs)


def test_wheel_install_finds_templates_and_static(tmp_path):
    """Build the wheel, install it with the locked dependencies into a fresh venv, render a page."""
    dist = tmp_path / "dist"
    # hatchling comes from the test extra, so the wheel builds from this interpreter, no download.
    uv(
        "build",
        "--wheel",
        "--no-build-isolation",
        "--python",
        sys.executable,
        "-q",
        "--out-dir",
        str(dist),
        str(ROOT),
        cwd=tmp_path,
    )
    wheel = next(dist.glob("survey-*.whl"))
    requirements = tmp_path / "requirements.txt"
    uv(
        "export",
        "--locked",
        "--no-dev",
        "--no-emit-project",
        "--format",
        "requirements-txt",
        "-q",
        "--output-file",
        str(requirements),
        cwd=ROOT,
    )
    venv = tmp_path / "venv"
    uv("venv", "-q", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    uv("pip", "install", "-q", "--python", str(python), "-r", str(requirements), cwd=tmp_path)
    uv("pip", "install", "-q", "--python", str(python), "--no-deps", str(wheel), cwd=tmp_path)
    result = subprocess.run(
        [str(python), "-c", CHECK, str(tmp_path / "w.sqlite3"), str(ROOT)],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert str(venv) in result.stdout
