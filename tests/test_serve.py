"""The analyst app's HTTP API (FastAPI's TestClient), its feedback store and `tactics serve`."""

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from nlp import (  # noqa: E402
    DataError, InputError, TaxonomyError, load_model, load_taxonomy)
from nlp.cli import app as cli  # noqa: E402
from nlp.corpus.dataset import load_split  # noqa: E402
from nlp.apps.feedback import DB_FILE, FeedbackStore, default_db_path  # noqa: E402
from nlp.apps.serve import LOOPBACK_NAMES, PIECE_CHARS, create_app, is_loopback  # noqa: E402

from .conftest import write_jsonl  # noqa: E402

PROPAGANDA = ("The so-called Ukrainian state is a puppet of Washington, installed by the 2014 coup; "
              "Kiev regime neo-Nazis shell Donbas while NATO provoked this war.")
TAXONOMY = load_taxonomy()


@pytest.fixture(scope="module")
def model(small_model):
    return load_model(small_model)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "feedback.sqlite3"


@pytest.fixture
def client(model, db):
    return TestClient(create_app(model, db_path=db))


def stored_rows(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT text, labels, predicted, model_version, note, analyst "
                            "FROM feedback ORDER BY id").fetchall()


# ---- read-only endpoints -------------------------------------------------------------------

def test_healthz_reports_model_and_limits(model, db):
    client = TestClient(create_app(model, db_path=db, max_chars=500, max_batch=3,
                                   max_request_chars=900, max_pending=5))
    assert client.get("/healthz").json() == {
        "status": "ok", "model": model.version, "max_chars": 500, "max_batch": 3,
        "max_request_chars": 900, "max_pending": 5, "feedback_requires_token": False}


def test_labels_is_the_taxonomy(client):
    body = client.get("/v1/labels").json()
    assert body == TAXONOMY.to_dict()
    assert [t["id"] for t in body["tactics"]] == TAXONOMY.ids


def test_model_endpoint_serves_model_json(client, model, small_model):
    body = client.get("/v1/model").json()
    assert body == json.loads((small_model / "model.json").read_text(encoding="utf-8"))
    assert body["model_version"] == model.version and set(body["thresholds"]) == set(model.tactics)


def test_page_static_files_and_the_api_schema(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="snippet"' in page.text and 'href="/openapi.json"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    assert {"/v1/predict", "/v1/feedback", "/v1/labels"} <= set(client.get("/openapi.json").json()["paths"])


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc", "/docs/oauth2-redirect"])
def test_nothing_served_loads_from_another_site(client, path):
    """Offline, a page whose scripts come from a CDN is blank: every page loads only its own
    files, and the CDN-backed documentation pages are not served."""
    response = client.get(path)
    if path == "/":
        assert "http://" not in response.text and "https://" not in response.text
    else:
        assert response.status_code == 404 and "cdn" not in response.text


@pytest.mark.parametrize("path", ["/static/%2e%2e/feedback.py", "/static/..%2ffeedback.py",
                                  "/static/%2fetc%2fpasswd", "/static/../../pyproject.toml"])
def test_no_request_reads_files_outside_the_static_folder(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "import" not in response.text and "root:" not in response.text


# ---- prediction ----------------------------------------------------------------------------

def test_predict_batch_gives_the_records_the_cli_writes(client, small_model, tmp_path):
    items = [{"id": "a", "text": PROPAGANDA}, {"id": 7, "text": "   "},
             {"id": "c", "text": "The council voted to repave the market square next spring."}]
    source = write_jsonl(tmp_path / "in.jsonl", items)
    out = tmp_path / "out.jsonl"
    ran = CliRunner().invoke(cli, ["predict", "--input", str(source), "--output", str(out),
                                   "--model", str(small_model)])
    assert ran.exit_code == 3, ran.output           # a record carries an error
    expected = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]

    response = client.post("/v1/predict", json={"items": items})
    assert response.status_code == 200
    assert response.json()["results"] == expected
    assert expected[1]["id"] == 7 and "empty" in expected[1]["error"]


def test_predict_one_text(client, model):
    response = client.post("/v1/predict", json={"text": PROPAGANDA})
    [record] = response.json()["results"]
    assert record == {"id": 1, **model.predict([PROPAGANDA])[0].to_dict()}
    assert record["labels"] and set(record["evidence"]) == set(record["labels"])


def test_predict_without_evidence(client):
    [record] = client.post("/v1/predict", json={"text": PROPAGANDA, "evidence": False}).json()["results"]
    assert record["labels"] and record["evidence"] == {}


# ---- limits and malformed bodies -----------------------------------------------------------

@pytest.fixture
def strict(model, db):
    return TestClient(create_app(model, db_path=db, max_chars=100, max_batch=2))


@pytest.mark.parametrize("path, body", [
    ("/v1/predict", {"text": "x" * 101}),
    ("/v1/predict", {"items": [{"id": 1, "text": "fine"}, {"id": 2, "text": "y" * 101}]}),
    ("/v1/feedback", {"text": "z" * 101, "labels": []}),
])
def test_text_over_the_limit_is_413_naming_it(strict, db, path, body):
    response = strict.post(path, json=body)
    assert response.status_code == 413
    assert response.json()["limit"] == 100 and "the limit is 100" in response.json()["error"]
    assert not db.exists() or stored_rows(db) == []


def test_request_over_the_total_characters_cap_is_413(model, db):
    client = TestClient(create_app(model, db_path=db, max_chars=100, max_request_chars=250))
    items = [{"id": i, "text": "x" * 90} for i in range(3)]
    response = client.post("/v1/predict", json={"items": items})
    assert response.status_code == 413
    assert response.json() == {"error": "the request holds 270 characters of text; the limit is "
                                        "250 per request (send fewer texts per request)",
                               "limit": 250}
    assert client.post("/v1/predict", json={"items": items[:2]}).status_code == 200


@pytest.mark.parametrize("headers", [{"Content-Type": "text/plain"}, {},
                                     {"Content-Type": "application/x-www-form-urlencoded"}])
def test_a_body_sent_without_the_json_content_type_is_415_naming_it(client, headers):
    response = client.post("/v1/predict", content=json.dumps({"text": PROPAGANDA}),
                           headers=headers)
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["error"]
    ok = client.post("/v1/predict", content=json.dumps({"text": PROPAGANDA}),
                     headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def _blocking(model, monkeypatch):
    """Make ``model.predict`` log the length of each call's first text and hold its first call
    until released."""
    calls, started, release = [], threading.Event(), threading.Event()
    predict = model.predict

    def held(texts, **options):
        calls.append([len(t) for t in texts])
        if len(calls) == 1:
            started.set()
            assert release.wait(30)
        return predict(texts, **options)

    monkeypatch.setattr(model, "predict", held)
    return calls, started, release


def _wait_until(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_full_queue_answers_503_with_retry_after(small_model, db, monkeypatch):
    model = load_model(small_model)
    _, started, release = _blocking(model, monkeypatch)
    app = create_app(model, db_path=db, max_pending=1, lanes=1)
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/v1/predict", json={"text": PROPAGANDA})
        assert started.wait(30)
        busy = client.post("/v1/predict", json={"text": "Another text."})
        release.set()
        assert first.result().status_code == 200
        again = client.post("/v1/predict", json={"text": "Another text."})
    assert busy.status_code == 503
    retry = int(busy.headers["Retry-After"])
    assert busy.json() == {"error": f"the server is busy: 1 requests are being classified or "
                                    f"waiting; retry after {retry} s", "retry_after": retry}
    assert 1 <= retry <= 60 and again.status_code == 200


def test_a_small_request_is_not_stuck_behind_a_large_one(small_model, db, monkeypatch):
    """On one lane, a one-sentence request that arrives while a large request is being
    classified runs after the large request's current piece, not after all of it."""
    model = load_model(small_model)
    calls, started, release = _blocking(model, monkeypatch)
    app = create_app(model, db_path=db, lanes=1)
    long_texts = [(PROPAGANDA + " ") * (PIECE_CHARS // len(PROPAGANDA) + 1 + i) for i in range(3)]
    large = {"items": [{"id": i, "text": text} for i, text in enumerate(long_texts)],
             "evidence": False}
    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        big = pool.submit(client.post, "/v1/predict", json=large)
        assert started.wait(30)
        small = pool.submit(client.post, "/v1/predict", json={"text": "Talks resume on Monday."})
        _wait_until(lambda: app.state.scheduler.pending == 2)
        release.set()
        assert small.result().status_code == 200 and big.result().status_code == 200
    sizes = [len(t) for t in long_texts]
    assert calls == [[sizes[0]], [len("Talks resume on Monday.")], [sizes[1]], [sizes[2]]]
    monkeypatch.undo()
    expected = [{"id": i, **p.to_dict()} for i, p in enumerate(model.predict(long_texts,
                                                                             evidence=False))]
    assert big.result().json()["results"] == expected


def test_small_requests_arriving_together_are_classified_in_one_call(small_model, db, monkeypatch):
    """On one lane, requests that arrive while it is busy join one batch: one call of the model,
    and each request still gets its own results."""
    model = load_model(small_model)
    calls, started, release = _blocking(model, monkeypatch)
    app = create_app(model, db_path=db, lanes=1)
    texts = ["Talks resume on Monday.", PROPAGANDA, "The council met on Tuesday about buses."]
    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        first = pool.submit(client.post, "/v1/predict", json={"text": "A first text."})
        assert started.wait(30)
        later = [pool.submit(client.post, "/v1/predict", json={"text": t}) for t in texts]
        _wait_until(lambda: app.state.scheduler.pending == 4)
        release.set()
        answers = [f.result() for f in later]
        assert first.result().status_code == 200
    assert calls[0] == [len("A first text.")]
    assert len(calls) == 2 and sorted(calls[1]) == sorted(len(t) for t in texts)
    monkeypatch.undo()
    for text, answer in zip(texts, answers):
        assert answer.json()["results"] == [{"id": 1, **model.predict([text])[0].to_dict()}]


def test_a_failed_batch_gives_each_request_its_own_answer(small_model, db, monkeypatch):
    model = load_model(small_model)
    calls, started, release = _blocking(model, monkeypatch)
    held = model.predict

    def fails_on_poison(texts, **options):
        if len(texts) > 1 and any("poison" in t for t in texts):
            raise RuntimeError("boom")
        return held(texts, **options)

    monkeypatch.setattr(model, "predict", fails_on_poison)
    app = create_app(model, db_path=db, lanes=1)
    with TestClient(app, raise_server_exceptions=False) as client, ThreadPoolExecutor(3) as pool:
        first = pool.submit(client.post, "/v1/predict", json={"text": "A first text."})
        assert started.wait(30)
        good = pool.submit(client.post, "/v1/predict", json={"text": PROPAGANDA})
        poison = pool.submit(client.post, "/v1/predict", json={"text": "poison pill"})
        _wait_until(lambda: app.state.scheduler.pending == 3)
        release.set()
        assert first.result().status_code == 200
        assert good.result().status_code == 200 and poison.result().status_code == 200
    # the first call, then the joint one failed (not logged) and each text ran alone
    assert calls[0] == [13] and sorted(calls[1:]) == [[11], [len(PROPAGANDA)]]


def test_batch_over_the_limit_is_413(strict):
    items = [{"id": i, "text": "short text"} for i in range(3)]
    response = strict.post("/v1/predict", json={"items": items})
    assert response.status_code == 413
    assert response.json() == {"error": "the batch holds 3 texts; the limit is 2 per request",
                               "limit": 2}


@pytest.mark.parametrize("path, body, hint", [
    ("/v1/predict", b"{not json", "JSON decode error"),
    ("/v1/predict", {}, "give either 'text' or 'items'"),
    ("/v1/predict", {"text": "a", "items": []}, "give either 'text' or 'items'"),
    ("/v1/predict", {"text": 42}, "text: Input should be a valid string"),
    ("/v1/predict", {"items": [{"text": "no id"}]}, "items.0.id: Field required"),
    ("/v1/predict", {"items": "not a list"}, "items: Input should be a valid list"),
    ("/v1/feedback", {"text": "a text"}, "labels: Field required"),
    ("/v1/feedback", {"text": "a text", "labels": "us_decline"}, "labels: Input should be a valid list"),
    ("/v1/feedback", {"text": "   ", "labels": []}, "text is empty"),
    ("/v1/predict", {"text": None}, "text is null"),
    ("/v1/predict", {"text": "a", "evidnce": False}, "evidnce: Extra inputs are not permitted"),
    ("/v1/predict", {"items": [{"id": 1, "text": "a", "lang": "en"}]},
     "items.0.lang: Extra inputs are not permitted"),
    ("/v1/feedback", {"text": "a text", "labels": [], "tags": ["x"]},
     "tags: Extra inputs are not permitted"),
])
def test_malformed_body_is_422_with_a_readable_message(client, path, body, hint):
    kwargs = {"content": body, "headers": {"Content-Type": "application/json"}} \
        if isinstance(body, bytes) else {"json": body}
    response = client.post(path, **kwargs)
    assert response.status_code == 422
    error = response.json()["error"]
    assert isinstance(error, str) and hint in error


# ---- feedback ------------------------------------------------------------------------------

def test_feedback_is_stored_with_the_models_prediction(client, db, model):
    predicted = model.predict([PROPAGANDA], evidence=False)[0].labels
    body = {"text": PROPAGANDA, "labels": ["us_decline", "denazification", "us_decline"],
            "note": "  sarcastic  ", "analyst": "kb"}
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 201
    saved = response.json()
    assert saved["id"] == 1 and saved["labels"] == ["us_decline", "denazification"]
    assert saved["predicted"] == predicted and saved["model"] == model.version
    [row] = stored_rows(db)
    assert row == (PROPAGANDA, json.dumps(["us_decline", "denazification"]), json.dumps(predicted),
                   model.version, "sarcastic", "kb")


def test_feedback_with_unknown_tactic_is_422_listing_valid_ids(client, db):
    response = client.post("/v1/feedback", json={"text": PROPAGANDA, "labels": ["us_decline", "fake_news"]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "'fake_news'" in error and all(tactic in error for tactic in TAXONOMY.ids)
    assert stored_rows(db) == []


def test_export_round_trips_through_the_dataset_reader(client, tmp_path):
    client.post("/v1/feedback", json={"text": PROPAGANDA, "labels": ["us_decline"]})
    client.post("/v1/feedback", json={"text": "Bus timetables change on Monday.", "labels": [],
                                      "note": "neutral local news", "analyst": "ab"})
    client.post("/v1/feedback", json={"text": PROPAGANDA, "labels": ["denazification"]})
    response = client.get("/v1/feedback/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    path = tmp_path / "train.jsonl"
    path.write_bytes(response.content)
    records = load_split(path)
    assert [(r.id, r.text, r.labels) for r in records] == [
        ("feedback-2", "Bus timetables change on Monday.", ()),
        ("feedback-3", PROPAGANDA, ("denazification",)),   # the later correction supersedes
    ]
    assert records[0].note == "neutral local news" and records[0].extra["analyst"] == "ab"
    assert all(r.extra["source"] == "feedback" and r.extra["model"] for r in records)


def test_store_rejects_unknown_tactics_and_empty_texts(tmp_path):
    store = FeedbackStore(tmp_path / "deep" / "er" / DB_FILE)
    with pytest.raises(TaxonomyError, match="valid ids: talks_good_faith"):
        store.add("a text", ["nope"], predicted=[], model_version="m")
    with pytest.raises(InputError):
        store.add(" ", [], predicted=[], model_version="m")
    assert store.latest() == []


def test_unusable_database_is_a_data_error(tmp_path):
    (tmp_path / "not-a-db").write_text("plain text, not SQLite\n" * 100)
    with pytest.raises(DataError, match="not-a-db"):
        FeedbackStore(tmp_path / "not-a-db")
    with pytest.raises(DataError, match="feedback database error"):
        FeedbackStore(tmp_path)   # a directory


def test_default_db_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TACTICS_DATA_DIR", str(tmp_path))
    assert default_db_path() == tmp_path / DB_FILE
    monkeypatch.delenv("TACTICS_DATA_DIR")
    assert default_db_path().name == DB_FILE and "narrative-tactics" in str(default_db_path())


# ---- access control ------------------------------------------------------------------------

def test_token_guards_feedback_but_not_prediction(model, db):
    client = TestClient(create_app(model, db_path=db, token="s3cret"))
    body = {"text": PROPAGANDA, "labels": []}
    assert client.get("/healthz").json()["feedback_requires_token"] is True
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        response = client.post("/v1/feedback", json=body, headers=headers)
        assert response.status_code == 401 and "token" in response.json()["error"]
        assert client.get("/v1/feedback/export", headers=headers).status_code == 401
    assert stored_rows(db) == []
    good = {"Authorization": "Bearer s3cret"}
    assert client.post("/v1/feedback", json=body, headers=good).status_code == 201
    assert client.get("/v1/feedback/export", headers=good).text.count("\n") == 1
    assert client.post("/v1/predict", json={"text": PROPAGANDA}).status_code == 200


def test_allowed_hosts_refuse_other_host_headers_with_a_json_error(model, db):
    client = TestClient(create_app(model, db_path=db, allowed_hosts=LOOPBACK_NAMES),
                        base_url="http://127.0.0.1:8000")
    assert client.get("/healthz").status_code == 200
    for host in ("localhost:8000", "[::1]:8000", "LOCALHOST"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    refused = client.get("/healthz", headers={"Host": "rebound.example:8000"})
    assert refused.status_code == 400 and refused.headers["content-type"] == "application/json"
    assert refused.json() == {"error": "this server does not answer to the Host "
                                       "'rebound.example:8000'; use one of 127.0.0.1, [::1], "
                                       "localhost"}


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.org", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.fixture
def fake_uvicorn(monkeypatch):
    """Record uvicorn.run calls instead of serving."""
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    monkeypatch.delenv("TACTICS_TOKEN", raising=False)
    return calls


def test_serve_refuses_a_public_host_without_a_token(fake_uvicorn, small_model, tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--model", str(small_model),
                                      "--db", str(tmp_path / DB_FILE)])
    assert result.exit_code == 1 and fake_uvicorn == []
    assert "without a token" in result.stderr and "--token" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_starts_with_a_token_from_the_environment(fake_uvicorn, small_model, tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "9001",
                                      "--model", str(small_model), "--db", str(tmp_path / DB_FILE)],
                                env={"TACTICS_TOKEN": "s3cret"})
    assert result.exit_code == 0, result.output
    [(served, options)] = fake_uvicorn
    assert options == {"host": "0.0.0.0", "port": 9001, "log_level": "info"}
    assert TestClient(served).get("/healthz").json()["feedback_requires_token"] is True
    assert (tmp_path / DB_FILE).exists()


def test_a_token_on_the_command_line_is_warned_about(fake_uvicorn, small_model, tmp_path):
    args = ["serve", "--host", "0.0.0.0", "--model", str(small_model), "--db",
            str(tmp_path / DB_FILE)]
    argued = CliRunner().invoke(cli, [*args, "--token", "s3cret"])
    assert argued.exit_code == 0, argued.output
    assert "warning: --token on the command line is visible to every user" in argued.stderr
    assert "$TACTICS_TOKEN" in argued.stderr and "--token-file" in argued.stderr
    from_env = CliRunner().invoke(cli, args, env={"TACTICS_TOKEN": "s3cret"})
    assert from_env.exit_code == 0 and "warning" not in from_env.stderr


def test_the_token_can_come_from_a_file(fake_uvicorn, small_model, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    args = ["serve", "--host", "0.0.0.0", "--model", str(small_model), "--db",
            str(tmp_path / DB_FILE), "--token-file", str(token_file)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and "warning" not in result.stderr
    [(served, _)] = fake_uvicorn
    body = {"text": PROPAGANDA, "labels": []}
    assert TestClient(served).post("/v1/feedback", json=body).status_code == 401
    assert TestClient(served).post("/v1/feedback", json=body,
                                   headers={"Authorization": "Bearer s3cret"}).status_code == 201
    twice = CliRunner().invoke(cli, args, env={"TACTICS_TOKEN": "other"})
    assert twice.exit_code == 2 and "give the token once" in twice.stderr
    token_file.write_text("\n")
    empty = CliRunner().invoke(cli, args)
    assert empty.exit_code == 1 and "the first line is empty" in empty.stderr


def test_serve_reports_a_bad_model_in_one_line(fake_uvicorn, tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--model", str(tmp_path), "--db", str(tmp_path / DB_FILE)])
    assert result.exit_code == 1 and "model.json is missing" in result.stderr
    assert fake_uvicorn == []
