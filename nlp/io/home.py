"""Where models and the corpus live: one rule for every command and for ``load_model()``.

1. ``$TACTICS_HOME``: a directory holding ``models/`` (and optionally ``training_data/`` and the
   project's own codebook, ``taxonomy.toml``);
2. else the project directory, found by walking up from the current directory: one whose
   ``pyproject.toml`` names narrative-tactics and that has ``models/``, or any directory holding
   ``models/default/model.json``;
3. else the model shipped inside the package (read-only: commands that write models, corpora or
   reports into the home refuse it and say how to choose a home).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import TacticsError

__all__ = ["Home", "find_home", "in_home", "HOME_ENV", "PROJECT_NAME", "CODEBOOK_FILE"]

HOME_ENV = "TACTICS_HOME"
PROJECT_NAME = "narrative-tactics"
CODEBOOK_FILE = "taxonomy.toml"
_PACKAGE = Path(__file__).resolve().parents[1]
# A wheel carries models/default here (copied at build time, see setup.py); a source checkout or
# an editable install has it beside the package.
_SHIPPED = (_PACKAGE / "_shipped", _PACKAGE.parent)


@dataclass(frozen=True)
class Home:
    """A home directory and how it was found: ``$TACTICS_HOME``, ``project`` or ``package``."""

    root: Path
    source: str

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def data(self) -> Path:
        return self.root / "training_data"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation"

    @property
    def codebook(self) -> Path:
        """The project's own codebook (``tactics labels add`` writes it); in use when present."""
        return self.root / CODEBOOK_FILE

    def writable(self) -> Home:
        """This home, unless it is the package's own (which nothing may write into)."""
        if self.source == "package":
            raise TacticsError(f"no project directory here and ${HOME_ENV} is not set; the model "
                               f"shipped with the package ({self.models}) is read-only: run this "
                               f"inside the project directory, set ${HOME_ENV}, or name the "
                               f"paths explicitly")
        return self


def find_home(start: str | Path | None = None) -> Home:
    """The home by the rule above, searching from ``start`` (default: the current directory)."""
    explicit = os.environ.get(HOME_ENV)
    if explicit:
        return Home(Path(explicit).expanduser(), f"${HOME_ENV}")
    here = Path(start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if _is_project(directory):
            return Home(directory, "project")
    shipped = next((root for root in _SHIPPED if (root / "models" / "default").is_dir()),
                   _SHIPPED[0])
    return Home(shipped, "package")


def in_home(given: str | Path | None, part: str, *, write: bool = False) -> Path:
    """``given`` when set, else the home's ``part`` (``models``, ``data`` or ``evaluation``);
    with ``write``, a home that is the package's own is refused."""
    if given is not None:
        return Path(given)
    home = find_home()
    return getattr(home.writable() if write else home, part)


def _is_project(directory: Path) -> bool:
    if (directory / "models" / "default" / "model.json").is_file():
        return True
    if not (directory / "models").is_dir():
        return False
    try:
        with (directory / "pyproject.toml").open("rb") as handle:
            return tomllib.load(handle).get("project", {}).get("name") == PROJECT_NAME
    except (OSError, tomllib.TOMLDecodeError):
        return False
