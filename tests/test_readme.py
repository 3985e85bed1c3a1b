"""The README's promises about the command line hold: what the quick start installs, the exit
codes, where models live."""

import re

from nlp.cli._util import EXIT_FATAL, EXIT_OK, EXIT_ROW_ERRORS, EXIT_USAGE

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# Commands the README shows, and the extra each needs.
NEEDS_EXTRA = {"tactics serve": "serve"}


def _quickstart_extras() -> set[str]:
    script = (ROOT / "scripts" / "quickstart.sh").read_text(encoding="utf-8")
    [extras] = re.findall(r'^EXTRAS="([^"]*)"', script, flags=re.M)
    return {name for name in extras.split(",") if name}


def test_the_quick_start_installs_what_the_readme_commands_need():
    shown = README[README.index("## Command line"):README.index("## Batch jobs")]
    needed = {extra for command, extra in NEEDS_EXTRA.items() if command in shown}
    assert needed and needed <= _quickstart_extras()


def test_the_readme_documents_the_exit_codes_and_where_models_live():
    table = README[README.index("### Exit codes"):]
    for code in (EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_ROW_ERRORS):
        assert re.search(rf"^\| {code} \|", table, flags=re.M), code
    home = README[README.index("### Where models live"):README.index("### Exit codes")]
    assert "$TACTICS_HOME" in home and "walking up" in home and "shipped" in home
