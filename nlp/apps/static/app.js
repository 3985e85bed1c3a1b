"use strict";
// The analyst page: tags a snippet through the API, shows its tactics and the evidence inside the
// snippet, and saves the analyst's corrected tactic set. Snippet text is untrusted: it reaches the
// page only as the textContent of nodes built here, never as HTML.

const RECENT_KEY = "tactics.recent";
const ANALYST_KEY = "tactics.analyst";
const RECENT_MAX = 12;

const state = {
  tactics: new Map(),   // id -> {id, family, definition}
  families: {},         // family id -> description
  thresholds: {},       // tactic id -> decision threshold
  maxChars: Infinity,
  current: null,        // {text, result} of the snippet on show
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function humanize(id) {
  const words = id.split("_").map((w) => (w === "us" ? "US" : w));
  const first = words[0];
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return words.join(" ");
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const body = isJson ? await response.json() : await response.text();
  if (!response.ok) {
    const error = new Error((body && body.error) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function postJson(path, payload, headers = {}) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(payload),
  });
}

// ---- start-up -------------------------------------------------------------------------------

async function init() {
  $("predict-form").addEventListener("submit", (event) => { event.preventDefault(); tag(); });
  $("feedback-form").addEventListener("submit", (event) => { event.preventDefault(); save(); });
  $("snippet").addEventListener("input", showCharCount);
  $("analyst").value = localStorage.getItem(ANALYST_KEY) || "";
  renderRecent();
  try {
    const [labels, health, meta] = await Promise.all(
      [api("/v1/labels"), api("/healthz"), api("/v1/model")]);
    state.families = labels.families;
    labels.tactics.forEach((t) => state.tactics.set(t.id, t));
    state.thresholds = meta.thresholds;
    state.maxChars = health.max_chars;
    $("token-field").hidden = !health.feedback_requires_token;
    $("model-info").textContent =
      `Model ${meta.model_version} · ${labels.tactics.length} tactics in ` +
      `${Object.keys(labels.families).length} families`;
    renderChoices();
    showCharCount();
  } catch (error) {
    $("model-info").textContent = `The service is not answering: ${error.message}`;
  }
}

function showCharCount() {
  const n = Array.from($("snippet").value).length;
  const over = n > state.maxChars;
  $("char-count").textContent = over
    ? `${n} characters: over the limit of ${state.maxChars}`
    : (Number.isFinite(state.maxChars) ? `${n} / ${state.maxChars} characters` : "");
  $("char-count").classList.toggle("error", over);
}

// ---- tagging --------------------------------------------------------------------------------

async function tag(text = $("snippet").value) {
  const status = $("predict-status");
  if (!text.trim()) {
    status.textContent = "Paste a snippet first.";
    return;
  }
  $("tag-button").disabled = true;
  status.textContent = "Tagging…";
  try {
    const { results: [result] } = await postJson("/v1/predict", { text });
    if (result.error) throw new Error(result.error);
    state.current = { text, result };
    showResult(text, result);
    remember(text, result.labels);
    status.textContent = "";
  } catch (error) {
    status.textContent = `Could not tag the snippet: ${error.message}`;
  } finally {
    $("tag-button").disabled = false;
  }
}

function showResult(text, result) {
  const list = $("tactics");
  list.replaceChildren(...result.labels.map((id) => tacticCard(id, result)));
  const nearMisses = result.uncertain.filter((id) => !result.labels.includes(id));
  if (nearMisses.length) {
    list.append(el("li", "list-note", "Close to the threshold but not predicted:"));
    list.append(...nearMisses.map((id) => tacticCard(id, result, true)));
  }
  $("no-tactics").hidden = result.labels.length > 0;
  $("result-meta").textContent =
    `Language: ${result.lang} · model ${result.model}` + (result.note ? ` · ${result.note}` : "");
  renderSnippet(text, result.evidence);
  setChoices(result.labels);
  $("feedback-status").textContent = "";
  $("result").hidden = false;
}

function tacticCard(id, result, below = false) {
  const tactic = state.tactics.get(id) || { id, family: "", definition: "" };
  const card = $("tactic-template").content.firstElementChild.cloneNode(true);
  const score = result.scores[id];
  const percent = Math.round(score * 100);
  card.dataset.tactic = id;
  card.dataset.family = tactic.family;
  card.classList.toggle("below", below);
  card.querySelector(".tactic-name").textContent = humanize(id);
  const family = card.querySelector(".family");
  family.textContent = humanize(tactic.family);
  family.title = state.families[tactic.family] || "";
  card.querySelector(".uncertain").hidden = !result.uncertain.includes(id);
  card.querySelector(".uncertain").title = "The score is close to this tactic's threshold";
  const bar = card.querySelector(".bar");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.setAttribute("aria-label", `Confidence for ${humanize(id)}: ${percent}%`);
  card.querySelector(".fill").style.width = `${percent}%`;
  const threshold = state.thresholds[id];
  if (threshold !== undefined) {
    const tick = card.querySelector(".threshold");
    tick.style.left = `${Math.round(threshold * 100)}%`;
    tick.title = `Threshold ${Math.round(threshold * 100)}%`;
  }
  card.querySelector(".score").textContent = `${percent}%`;
  const definition = card.querySelector(".definition");
  definition.textContent = tactic.definition;
  definition.id = `definition-${id}`;
  card.setAttribute("aria-describedby", definition.id);
  if (!below) {
    for (const on of ["mouseenter", "focus"]) card.addEventListener(on, () => focusEvidence(id));
    for (const off of ["mouseleave", "blur"]) card.addEventListener(off, () => focusEvidence(null));
  }
  return card;
}

// ---- evidence -------------------------------------------------------------------------------

// The API gives offsets in Unicode code points (Python string indices); Array.from(text) indexes
// the same way, where JavaScript string indices would drift after any emoji.
function renderSnippet(text, evidence) {
  const chars = Array.from(text);
  const spans = [];
  for (const [tactic, found] of Object.entries(evidence)) {
    spans.push({ ...found.sentence, tactic, kind: "sentence" });
    found.phrases.forEach((phrase) => spans.push({ ...phrase, tactic, kind: "phrase" }));
  }
  const cuts = new Set([0, chars.length]);
  spans.forEach((span) => { cuts.add(span.start); cuts.add(span.end); });
  const points = [...cuts].sort((a, b) => a - b);
  const view = $("snippet-view");
  view.replaceChildren();
  for (let i = 0; i + 1 < points.length; i += 1) {
    const [start, end] = [points[i], points[i + 1]];
    const piece = chars.slice(start, end).join("");
    const covering = spans.filter((span) => span.start <= start && end <= span.end);
    view.append(covering.length ? evidenceNode(piece, covering) : document.createTextNode(piece));
  }
  focusEvidence(null);
}

function evidenceNode(piece, covering) {
  const of = (kind) => [...new Set(covering.filter((s) => s.kind === kind).map((s) => s.tactic))];
  const phraseOf = of("phrase");
  const node = el(phraseOf.length ? "mark" : "span", "evidence", piece);
  node.dataset.sentence = of("sentence").join(" ");
  node.dataset.phrase = phraseOf.join(" ");
  node.title = "Evidence for " + [...new Set(covering.map((s) => humanize(s.tactic)))].join(", ");
  return node;
}

// Highlight the evidence of one tactic, or of all of them when `tactic` is null.
function focusEvidence(tactic) {
  const matches = (list) => list.split(" ").filter(Boolean).some((t) => !tactic || t === tactic);
  for (const node of $("snippet-view").querySelectorAll(".evidence")) {
    node.classList.toggle("ev-sentence", matches(node.dataset.sentence));
    node.classList.toggle("ev-phrase", matches(node.dataset.phrase));
  }
  for (const card of $("tactics").querySelectorAll(".tactic")) {
    card.classList.toggle("active", card.dataset.tactic === tactic);
  }
}

// ---- corrections ----------------------------------------------------------------------------

function renderChoices() {
  const groups = Object.keys(state.families).map((family) => {
    const group = el("fieldset", "family-group");
    group.dataset.family = family;
    group.append(el("legend", "", humanize(family)));
    group.title = state.families[family];
    for (const tactic of state.tactics.values()) {
      if (tactic.family !== family) continue;
      const label = el("label", "choice");
      label.title = tactic.definition;
      const box = el("input");
      box.type = "checkbox";
      box.name = "labels";
      box.value = tactic.id;
      box.addEventListener("change", markChanges);
      label.append(box, el("span", "", humanize(tactic.id)));
      group.append(label);
    }
    return group;
  });
  $("choices").replaceChildren(...groups);
}

function setChoices(labels) {
  for (const box of document.querySelectorAll("#choices input")) {
    box.checked = labels.includes(box.value);
    box.dataset.predicted = String(box.checked);
  }
  markChanges();
}

function markChanges() {
  for (const box of document.querySelectorAll("#choices input")) {
    box.closest(".choice").classList.toggle("changed", String(box.checked) !== box.dataset.predicted);
  }
}

async function save() {
  const status = $("feedback-status");
  if (!state.current) return;
  const labels = [...document.querySelectorAll("#choices input:checked")].map((box) => box.value);
  const analyst = $("analyst").value.trim();
  localStorage.setItem(ANALYST_KEY, analyst);
  const token = $("token").value;
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  $("save-button").disabled = true;
  status.textContent = "Saving…";
  try {
    const saved = await postJson("/v1/feedback",
      { text: state.current.text, labels, note: $("note").value, analyst }, headers);
    const names = saved.labels.length ? saved.labels.map(humanize).join(", ") : "no tactic";
    status.textContent = `Saved correction #${saved.id}: ${names}.`;
    remember(state.current.text, saved.labels, true);
  } catch (error) {
    if (error.status === 401) $("token-field").hidden = false;
    status.textContent = `Not saved: ${error.message}`;
  } finally {
    $("save-button").disabled = false;
  }
}

// ---- recent snippets (kept in this browser only) --------------------------------------------

function loadRecent() {
  try {
    const recent = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(recent) ? recent : [];
  } catch {
    return [];
  }
}

function remember(text, labels, saved = false) {
  const recent = loadRecent().filter((entry) => entry.text !== text);
  recent.unshift({ text, labels, saved });
  localStorage.setItem(RECENT_KEY, JSON.stringify(recent.slice(0, RECENT_MAX)));
  renderRecent();
}

function renderRecent() {
  const recent = loadRecent();
  $("recent-empty").hidden = recent.length > 0;
  $("recent").replaceChildren(...recent.map((entry) => {
    const button = el("button", "recent-item");
    button.type = "button";
    button.append(el("span", "recent-text", String(entry.text)));
    const labels = Array.isArray(entry.labels) && entry.labels.length
      ? entry.labels.map(humanize).join(", ") : "no tactic";
    button.append(el("span", "recent-labels", (entry.saved ? "✓ corrected · " : "") + labels));
    button.addEventListener("click", () => { $("snippet").value = entry.text; showCharCount(); tag(); });
    const item = el("li");
    item.append(button);
    return item;
  }));
}

document.addEventListener("DOMContentLoaded", init);
