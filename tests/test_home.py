"""One home for models: $TACTICS_HOME, else the project directory found from the current one
upwards, else the model shipped with the package; the same for every command."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from nlp import load_model
from nlp.cli import app
from nlp.errors import TacticsError
from nlp.io.home import HOME_ENV, find_home

runner = CliRunner()
TEXT = "Kyiv walked away from a deal that was ready in Istanbul."


@pytest.fixture(autouse=True)
def no_home_settings(monkeypatch):
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.delenv("TACTICS_MODEL", raising=False)


def _model_copy(source, target, name):
    """A copy of ``source`` that says it is model ``name`` (another version string)."""
    shutil.copytree(source, target)
    meta = json.loads((target / "model.json").read_text())
    meta.update(name=name, model_version=f"{name}-{meta['model_version']}")
    (target / "model.json").write_text(json.dumps(meta))
    return meta["model_version"]


@pytest.fixture
def project(tmp_path, small_model, small_corpus):
    """A project directory: pyproject.toml naming the package, models/default and a candidate
    trained on the small corpus, and a sub-directory to work from."""
    root = tmp_path / "project"
    (root / "docs" / "notes").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "narrative-tactics"\n')
    versions = {name: _model_copy(small_model, root / "models" / name, name)
                for name in ("default", "spring")}
    return root, versions


def test_the_project_directory_is_found_from_below(project, monkeypatch):
    root, _ = project
    assert find_home(root / "docs" / "notes").root == root
    monkeypatch.chdir(root / "docs" / "notes")
    assert find_home().root == root and find_home().source == "project"


@pytest.mark.parametrize("marker", ["pyproject", "model.json"])
def test_what_makes_a_project_directory(tmp_path, small_model, marker):
    (tmp_path / "models").mkdir()
    if marker == "pyproject":
        (tmp_path / "pyproject.toml").write_text('[project]\nname = "narrative-tactics"\n')
    else:
        shutil.copytree(small_model, tmp_path / "models" / "default")
    assert find_home(tmp_path).root == tmp_path


def test_another_projects_directory_is_not_a_home(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    assert find_home(tmp_path).source == "package"


def test_tactics_home_wins(project, tmp_path, monkeypatch):
    root, _ = project
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "elsewhere"))
    home = find_home(root)
    assert home.root == tmp_path / "elsewhere" and home.models == tmp_path / "elsewhere" / "models"
    assert home.data == tmp_path / "elsewhere" / "training_data"


def test_outside_any_project_the_shipped_model_is_used_and_read_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    home = find_home()
    assert home.source == "package" and (home.models / "default" / "model.json").is_file()
    with pytest.raises(TacticsError, match=f"no project directory here and \\${HOME_ENV}"):
        home.writable()
    assert load_model().path == home.models / "default"
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 1 and "is read-only" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_promote_and_predict_use_the_same_default_from_a_sub_directory(project, monkeypatch):
    root, versions = project
    monkeypatch.chdir(root / "docs" / "notes")
    before = runner.invoke(app, ["predict", "--json", TEXT])
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout)["model"] == versions["default"]
    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0 and versions["spring"] in listing.stdout
    promoted = runner.invoke(app, ["promote", "spring", "--force"])
    assert promoted.exit_code == 0, promoted.output
    after = runner.invoke(app, ["predict", "--json", TEXT])
    assert json.loads(after.stdout)["model"] == versions["spring"]
    named = runner.invoke(app, ["predict", "--json", TEXT, "--model", "spring"])
    assert json.loads(named.stdout)["model"] == versions["spring"]


def test_every_command_follows_tactics_home(project, tmp_path, monkeypatch):
    root, versions = project
    monkeypatch.setenv(HOME_ENV, str(root))
    monkeypatch.chdir(tmp_path)
    assert json.loads(runner.invoke(app, ["predict", "--json", TEXT]).stdout)["model"] == \
        versions["default"]
    assert versions["spring"] in runner.invoke(app, ["models"]).stdout
    missing = runner.invoke(app, ["validate"])      # the home has no training_data/
    assert missing.exit_code == 1 and str(root / "training_data") in missing.output


def test_help_states_the_rule_and_the_exit_codes():
    shown = runner.invoke(app, ["--help"]).stdout
    for needle in ("$TACTICS_HOME/models", "project directory", "shipped with the package",
                   "0  done", "1  fatal", "2  usage", "3  done, but some rows", "143"):
        assert needle in shown, needle
