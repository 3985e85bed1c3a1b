"""A non-editable `pip install .` into a fresh environment carries the default model and
classifies from any directory."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from .conftest import ROOT

BUILD_FILES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md"]
TEXT = "The West is tired; the aid will stop after the election."


def _source_copy(target: Path) -> Path:
    """The files a checkout gives the build (no build leftovers, no other models)."""
    target.mkdir()
    for name in BUILD_FILES:
        shutil.copy2(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "_shipped")
    shutil.copytree(ROOT / "nlp", target / "nlp", ignore=ignore)
    shutil.copytree(ROOT / "models" / "default", target / "models" / "default")
    return target


def _fresh_environment(path: Path) -> Path:
    """A new virtual environment whose only borrowed part is the installed dependencies (a .pth
    line naming this environment's site-packages, added after its own), to keep the test fast."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_pip_install_classifies_from_any_directory(tmp_path):
    source = _source_copy(Path(tmp_path, "checkout"))
    python = _fresh_environment(tmp_path / "env")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                                "--no-deps", "--quiet", str(source)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "TACTICS_HOME", "TACTICS_MODEL")}

    ran = subprocess.run([str(tmp_path / "env" / "bin" / "tactics"), "predict", "--json", TEXT],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    shipped = json.loads((ROOT / "models" / "default" / "model.json").read_text())
    assert result["model"] == shipped["model_version"] and result["labels"] == ["western_fatigue"]

    where = subprocess.run([python, "-c", "import nlp.io.home as h; print(h.find_home().models)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    models = Path(where.stdout.strip())
    assert models.is_relative_to(tmp_path / "env") and models.parent.name == "_shipped"
    files = sorted(p.relative_to(ROOT / "models") for p in (ROOT / "models" / "default").rglob("*")
                   if p.is_file())
    assert sorted(p.relative_to(models) for p in (models / "default").rglob("*") if p.is_file()) == files
    assert all((models / f).read_bytes() == (ROOT / "models" / f).read_bytes() for f in files)
