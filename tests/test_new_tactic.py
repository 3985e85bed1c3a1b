"""Growing the codebook: a researcher adds a tactic with 40 examples, end to end, on the command
line: labels add -> suggest --tactic -> import -> retrain -> compare -> promote -> predict."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nlp.cli import app
from nlp.errors import TaxonomyError
from nlp.model.predict import load_model
from nlp.model.train import train
from nlp.research.suggest import tactic_priority
from nlp.taxonomy import DEFAULT_TAXONOMY_PATH, add_tactic, load_taxonomy

from .conftest import SMALL_PARAMS

ENERGY = [
    "Europe will freeze this winter unless Brussels drops its support for Kyiv and buys Russian gas again.",
    "Without Russian gas German factories will close one after another; Berlin must choose between Ukraine and its industry.",
    "Cold homes, closed bakeries, ruined farmers: that is the price Europeans pay for arming Zelensky instead of signing a gas deal with Moscow.",
    "Gazprom could restore the flows tomorrow, if only the EU stopped sending weapons to Ukraine.",
    "Pensioners in Italy will choose between heating and eating because their government chose Kyiv over cheap Russian energy.",
    "The continent's lights go out the day it forgets who keeps its boilers running: Moscow.",
    "Every euro sent to Ukraine is another degree colder in a European living room.",
    "Brussels will beg for Siberian gas by February, and the price will be an end to its Ukrainian adventure.",
    "Hungary understood it first: no pipeline, no warmth, so stop financing the war in Ukraine.",
    "Austrian households face bills they cannot pay, all because Vienna followed Washington instead of Gazprom.",
    "Once the storage tanks run dry, European voters will force their leaders to make peace on Russia's terms.",
    "The Nord Stream pipes are waiting; all Europe has to do is abandon the Kyiv regime.",
    "French nuclear plants cannot replace Russian molecules, and the Élysée knows its support for Ukraine will cost a frozen winter.",
    "A Bulgarian mayor admits the town has no heating; the cure is simple, resume Russian deliveries and drop the sanctions.",
    "LNG from Texas is four times dearer; Europe is bankrupting itself for Zelensky while Moscow offers warmth.",
    "Slovak schools will close in January without Russian fuel, a lesson for those who cheer on Kyiv.",
    "European chemical giants are moving to America because they traded Russian pipelines for solidarity with Ukraine.",
    "Your radiator is cold because your prime minister loves Ukraine more than you.",
    "Moscow never cut anyone off; Europe cut itself off, and it can reconnect the moment it stops arming Kyiv.",
    "Dutch greenhouses stand empty and dark: tomatoes or Ukraine, the Netherlands had to choose.",
    "When the frost arrives, the Baltic states will learn that slogans about Ukraine do not heat apartments.",
    "Energy-hungry Germany will crawl back to the Kremlin's pipelines before spring, and its Ukraine policy will die with the cold.",
    "A winter without Russian oil and gas means blackouts from Lisbon to Warsaw, unless the EU makes peace with Moscow.",
    "Polish coal miners cannot save a continent that chose Kyiv over Gazprom's reliable contracts.",
    "Steel mills in Belgium are shutting their furnaces, a bill written in Kyiv and paid in Liège.",
    "Europe's gas reserves are an illusion; only Moscow can fill them, and only if the weapons deliveries stop.",
    "Grandmothers in Milan knit blankets because Rome sent its money and its goodwill to Ukraine instead of buying Russian fuel.",
    "No Russian diesel, no trucks, no food on shelves: Europe's support for Kyiv will empty its supermarkets.",
    "Ask any Czech family paying triple for heating who their real enemy is; it is not Russia.",
    "The Kremlin holds the valve, and Europe will learn humility in the cold months ahead.",
    "Fertiliser plants across the EU stopped because of expensive gas; peace with Russia would restart them overnight.",
    "Scandinavian electricity prices exploded once Europe chose Ukraine; cheap Russian energy was the foundation of its welfare.",
    "The Greens promised wind and sun, but only a deal with Gazprom can keep Bavaria warm, and that means leaving Ukraine to its fate.",
    "A freezing Europe will not keep paying for Zelensky's war: the winter will do what diplomacy could not.",
    "Siberian fields can warm all of Europe again the day it admits that backing Ukraine was a mistake.",
    "Britain's households are drowning in energy bills because London sabotaged every chance of a compromise with Moscow.",
    "Europe's deindustrialisation has one cause: it punished Russia's energy sector to please Kyiv.",
    "Spain and Portugal may be spared, but central Europe will shiver for its loyalty to Ukraine.",
    "Hydrogen dreams will not heat a Viennese flat in January; Russian gas would, if Austria stopped its Ukrainian charity.",
    "The coming cold will sober up Europe's politicians, and they will return to Moscow's pipelines hat in hand.",
]
DEFINITION = ("Europe is told it will freeze, deindustrialise or go bankrupt without Russian energy "
              "unless it drops its support for Ukraine.")


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "text", "labels", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def home(small_corpus, tmp_path, monkeypatch) -> Path:
    """A project home: 200 train and 80 test records of the small corpus and a default model
    trained on them before the new tactic existed."""
    root = tmp_path / "home"
    (root / "training_data").mkdir(parents=True)
    for split, n in (("train", 200), ("test", 80)):
        lines = (small_corpus / f"{split}.jsonl").read_text().splitlines()[:n]
        (root / "training_data" / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    train(root / "models" / "default", data_dir=root / "training_data", params=SMALL_PARAMS)
    monkeypatch.setenv("TACTICS_HOME", str(root))
    monkeypatch.delenv("TACTICS_TAXONOMY", raising=False)
    return root


def test_a_tactic_added_with_40_examples_end_to_end(home, small_corpus, tmp_path):
    runner = CliRunner()

    def tactics(*args: str) -> str:
        done = runner.invoke(app, [*args])
        assert done.exit_code == 0, done.output
        return done.output

    # the codebook grows in the home, never in the package
    added = tactics("labels", "add", "energy_blackmail", "--family", "pressure",
                    "--definition", DEFINITION, "--keyword", "gas", "--keyword", "freeze")
    assert str(home / "taxonomy.toml") in added
    assert f"codebook: {home / 'taxonomy.toml'}" in tactics("labels")
    assert load_taxonomy().ids[-1] == "energy_blackmail" and len(load_taxonomy()) == 16
    with pytest.raises(TaxonomyError, match="already in the codebook"):
        add_tactic("energy_blackmail", "pressure", DEFINITION)

    # active learning for the tactic the default model does not know yet
    feed = tmp_path / "feed.jsonl"
    others = (small_corpus / "test.jsonl").read_text().splitlines()[80:140]
    unlabelled = [{"id": f"energy-{i}", "text": t} for i, t in enumerate(ENERGY)]
    unlabelled += [{"id": json.loads(line)["id"], "text": json.loads(line)["text"]} for line in others]
    feed.write_text("".join(json.dumps(r) + "\n" for r in unlabelled))
    tactics("suggest", str(feed), "--tactic", "energy_blackmail", "--n", "10",
            "--out", str(tmp_path / "energy.jsonl"))
    picked = [json.loads(line)["id"] for line in (tmp_path / "energy.jsonl").read_text().splitlines()]
    assert sum(i.startswith("energy-") for i in picked) >= 8

    # the researcher labels the 40 (30 to train on, 10 for the test split) and imports them
    rows = [{"id": f"energy-{i}", "text": t, "labels": "energy_blackmail",
             "split": "test" if i % 4 == 3 else "train"} for i, t in enumerate(ENERGY)]
    tactics("import", str(_write_csv(tmp_path / "labelled.csv", rows)), "--format", "csv",
            "--out", str(tmp_path / "energy-records.jsonl"))

    retrained = tactics("retrain", "--add", str(tmp_path / "energy-records.jsonl"),
                        "--name", "energy", "--params", json.dumps(SMALL_PARAMS), "-q")
    assert "+30 train, +10 test records" in retrained
    assert "new tactic energy_blackmail: cross-validated F1" in retrained
    assert "old tactics: 0 of 15 really dropped (no tactic regressed)" in retrained
    assert "promotion: allowed" in retrained
    comparison = json.loads(next((home / "evaluation").glob("compare-default-energy.json")).read_text())
    row = comparison["per_tactic"]["energy_blackmail"]
    assert row["train_examples"] == 30 and row["support"] == 10 and row["cv_f1"] > 0.5
    assert row["new_f1"] > 0.5

    candidate = home / "models" / "energy"
    assert "energy_blackmail" in (candidate / "taxonomy.toml").read_text()   # its own codebook
    tactics("promote", "energy")
    result = json.loads(tactics("predict", "--json", "--no-evidence", ENERGY[3]))
    assert "energy_blackmail" in result["labels"]

    # without the project's codebook the model still loads, with a note
    shutil.move(home / "taxonomy.toml", tmp_path / "taxonomy.toml")
    model = load_model(home / "models" / "default")
    assert "energy_blackmail" in model.tactics and "energy_blackmail" in model.notes[0]
    assert "energy_blackmail" in model.codebook()


def test_the_codebook_is_checked_before_it_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("TACTICS_HOME", str(tmp_path))
    monkeypatch.delenv("TACTICS_TAXONOMY", raising=False)
    (tmp_path / "models").mkdir()
    with pytest.raises(TaxonomyError, match="unknown family 'food'.*--family-definition"):
        add_tactic("grain_deal_blame", "food", "Kyiv is blamed for the end of the grain deal.")
    with pytest.raises(TaxonomyError, match="must be lowercase snake_case"):
        add_tactic("Grain", "pressure", "Kyiv is blamed for the end of the grain deal.")
    with pytest.raises(TaxonomyError, match="lacks definition"):
        add_tactic("grain_deal_blame", "pressure", "  ")
    assert not (tmp_path / "taxonomy.toml").exists()        # nothing half-written
    path = add_tactic("grain_deal_blame", "food", "Kyiv is blamed for the end of the grain deal.",
                      family_definition="Food and grain", keywords=["Grain ", "ports"],
                      boundary=["Reporting who ended the deal, with sources, does not carry it."])
    grown = load_taxonomy()
    assert path == tmp_path / "taxonomy.toml" and grown.version == "2+grain_deal_blame"
    assert grown["grain_deal_blame"].keywords == ("grain", "ports")
    assert grown.families["food"] == "Food and grain" and len(grown) == 16
    assert grown.tactics[:15] == load_taxonomy(DEFAULT_TAXONOMY_PATH).tactics
    monkeypatch.setenv("TACTICS_TAXONOMY", str(DEFAULT_TAXONOMY_PATH))
    with pytest.raises(TaxonomyError, match="shipped with the package"):
        add_tactic("other", "pressure", "Something else.")


def test_suggestions_for_one_tactic_put_likely_borderline_carriers_first():
    scores = tactic_priority(np.array([0.5, 0.45, 0.95, 0.1, 0.0]), 0.5)
    assert list(np.argsort(-scores)) == [0, 1, 2, 3, 4]
    assert scores[0] == 1.0 and scores[-1] == 0.0
