import pytest

from nlp.errors import TaxonomyError
from nlp.taxonomy import load_taxonomy

SPEC_IDS = [
    "talks_good_faith", "blame_talks_failure", "territorial_legitimacy", "us_decline",
    "western_disunity", "western_fatigue", "us_hypocrisy", "aggression_denial", "denazification",
    "atrocity_denial", "ukraine_not_sovereign", "escalation_threat", "sanctions_backfire",
    "ukraine_collapse", "multipolar_order",
]


def test_taxonomy_has_the_spec_ids_in_five_families():
    taxonomy = load_taxonomy()
    assert taxonomy.ids == SPEC_IDS
    assert set(taxonomy.families) == {"negotiation", "us_west", "justification", "pressure",
                                      "world_order"}
    assert taxonomy.family_of("multipolar_order") == "world_order"
    assert all(t.definition and t.keywords for t in taxonomy.tactics)


def test_unknown_label_raises_and_lists_valid_ids():
    taxonomy = load_taxonomy()
    with pytest.raises(TaxonomyError) as err:
        taxonomy.check(["us_decline", "russophobia"])
    assert "'russophobia'" in str(err.value) and "multipolar_order" in str(err.value)


@pytest.mark.parametrize("body, message", [
    ("version = '1'\n[families]\na = 'x'\n", "no \\[\\[tactic"),
    ("[families]\na='x'\n[[tactic]]\nid='Bad Id'\nfamily='a'\ndefinition='d'\n", "snake_case"),
    ("[families]\na='x'\n[[tactic]]\nid='t'\nfamily='b'\ndefinition='d'\n", "unknown family"),
    ("[families]\na='x'\n[[tactic]]\nid='t'\nfamily='a'\ndefinition='d'\n"
     "[[tactic]]\nid='t'\nfamily='a'\ndefinition='d'\n", "duplicate tactic id"),
    ("[families\n", "not valid TOML"),
])
def test_malformed_taxonomy_files_are_refused(tmp_path, body, message):
    path = tmp_path / "taxonomy.toml"
    path.write_text(body)
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(path)


def test_readme_label_table_matches_the_taxonomy():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("<!-- labels:start -->")[1].split("<!-- labels:end -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    assert [row.split("`")[1] for row in rows] == SPEC_IDS
    for tactic in load_taxonomy().tactics:
        assert f"| {tactic.family} | `{tactic.id}` | {tactic.definition} |" in table
