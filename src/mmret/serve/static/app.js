// The search page: plain browser JavaScript, no build step. It only calls the server's /api endpoints.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, like: null, likeName: "", offset: 0, timer: null, request: 0, showBelow: false, hasMore: false };

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function headers() {
  const key = $("key").value.trim() || localStorage.getItem("mmret-key") || "";
  return key ? { "X-API-Key": key } : {};
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function filters() {
  const where = {};
  for (const pair of $("where").value.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`Metadata filter "${pair}": write it as key=value`);
    const raw = pair.slice(at + 1).trim();
    let value = raw;
    try { value = JSON.parse(raw); } catch { /* a plain string */ }
    where[pair.slice(0, at).trim()] = value;
  }
  if ($("modality").value) where.modality = $("modality").value;
  return Object.keys(where).length ? JSON.stringify(where) : null;
}

async function search(append = false) {
  const text = $("q").value.trim();
  if (!text && !state.file && !state.like) {
    $("results").replaceChildren();
    $("more").hidden = true;
    $("status").textContent = "Type a description, drop a file, or pick “More like this” on a result.";
    return;
  }
  const request = ++state.request;
  state.offset = append ? state.offset + Number($("k").value) : 0;
  const form = new FormData();
  if (text) form.append("text", text);
  if (text && $("mode").value) form.append("mode", $("mode").value);
  keepInUrl(text);
  if (state.file) form.append("file", state.file);
  if (state.like) form.append("like", state.like);
  form.append("k", $("k").value);
  form.append("offset", String(state.offset));
  form.append("per_file", String(!$("segments").checked));
  $("status").textContent = "Searching…";
  try {
    const where = filters();
    if (where) form.append("where", where);
    const byFace = state.file && $("by-face").checked; // faces/search: the files showing that person
    const response = await fetch(byFace ? "/api/faces/search" : "/api/search", { method: "POST", body: form, headers: headers() });
    const body = await response.json().catch(() => ({ detail: response.statusText }));
    if (request !== state.request) return; // a newer search was started meanwhile
    if (!response.ok) throw new Error(`${response.status}: ${body.detail || "the search failed"}`);
    showError("");
    render(body, append);
  } catch (error) {
    if (request !== state.request) return;
    showError(error.message);
    $("status").textContent = "";
  }
}

// The query in the address (/?q=...&mode=...), so that a search can be shared and reloaded.
function keepInUrl(text) {
  const params = new URLSearchParams();
  if (text) params.set("q", text);
  if (text && $("mode").value) params.set("mode", $("mode").value);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  $("q").value = params.get("q") || "";
  const mode = params.get("mode") || "";
  if ([...$("mode").options].some((option) => option.value === mode)) $("mode").value = mode;
  if (mode) $("options").open = true;
}

// The matched words in context: text nodes and <mark> elements, never HTML (the stored text is untrusted).
function snippetNode(snippet) {
  const node = el("span", { className: "snippet" });
  let last = 0;
  for (const [start, end] of snippet.marks) {
    node.append(snippet.text.slice(last, start), el("mark", { textContent: snippet.text.slice(start, end) }));
    last = end;
  }
  node.append(snippet.text.slice(last));
  return node;
}

function channelsText(result) {
  const found = Object.entries(result.channels || {}).map(([name, where]) => `${name} #${where.rank}`);
  return found.length ? `found by ${found.join(" · ")}` : "";
}

function render(page, append) {
  const cards = page.results.map(card);
  if (!append) state.showBelow = false;
  for (const [at, result] of page.results.entries()) {  // below the default relevance: behind "show more"
    if (page.relevance_cut != null && result.relevance != null && result.relevance < page.relevance_cut) cards[at].dataset.below = "";
  }
  if (append) $("results").append(...cards); else $("results").replaceChildren(...cards);
  const below = showBelowCut();
  const shown = $("results").children.length - below;
  const hidden = below && !state.showBelow ? ` and ${below} less relevant` : "";
  $("status").textContent = shown + below ? `${shown} result${shown === 1 ? "" : "s"}${hidden} (${page.took_ms.toFixed(0)} ms)` : "No results.";
  state.hasMore = page.has_more;
  $("more").hidden = !page.has_more || (below > 0 && !state.showBelow);
}

function showBelowCut() {
  const below = $("results").querySelectorAll("[data-below]");
  for (const card of below) card.hidden = !state.showBelow;
  $("below").hidden = !below.length || state.showBelow;
  $("below").textContent = `Show ${below.length} less relevant result${below.length === 1 ? "" : "s"}`;
  return below.length;
}

function fileName(result) {
  return result.path ? result.path.split("/").pop() : result.id;
}

function timeRange(segment) {
  if (segment && segment.kind === "face" && segment.end === 0) return "a face in the photo";
  return segment ? `${segment.start.toFixed(1)}–${segment.end.toFixed(1)} s (${segment.kind})` : "";
}

function metadataText(metadata) {
  return Object.entries(metadata).filter(([, value]) => value !== "" && value != null)
    .map(([key, value]) => `${key}: ${value}`).join(" · ");
}

function preview(result) {
  const start = result.segment ? result.segment.start : 0;
  if (result.modality === "audio") {
    return withReason(el("audio", { controls: true, preload: "none", src: `${result.media_url}#t=${start}` }),
                      result.media_url);
  }
  if (!result.thumbnail_url) return el("div", { className: "textcard", textContent: result.text || "" });
  const picture = el("img", { className: "thumb", src: result.thumbnail_url, loading: "lazy",
                              alt: `${result.modality} ${fileName(result)}` });
  if (result.modality !== "video") {
    drawFaceBox(picture, result);
    picture.addEventListener("click", () => details(result));
    return withReason(picture, result.thumbnail_url);
  }
  const play = el("button", { className: "thumb play", type: "button", title: `Play from ${start.toFixed(1)} s` }, picture);
  play.setAttribute("aria-label", `Play ${fileName(result)} from ${start.toFixed(1)} s`);
  play.addEventListener("click", () => play.replaceWith(player(result, start)));
  withReason(picture, result.thumbnail_url, play);
  return play;
}

function player(result, start) {
  const video = el("video", { controls: true, autoplay: true, muted: true, preload: "metadata",
                              src: `${result.media_url}#t=${start}` });
  video.addEventListener("loadedmetadata", () => { if (video.currentTime < start) video.currentTime = start; });
  return withReason(video, result.media_url);
}

// A file the server refuses (outside its --root folders, or gone) becomes a note saying why, in place of
// `shown` (by default the element itself), rather than a broken picture or a dead player.
function withReason(element, url, shown = element) {
  element.addEventListener("error", () => explainRefusal(url, shown), { once: true });
  return element;
}

async function explainRefusal(url, shown) {
  const asked = { ...headers(), Range: "bytes=0-0" }; // asks again for one byte: a video is not downloaded
  const response = await fetch(url, { headers: asked }).catch(() => null);
  if (response && response.ok) return; // the file is served: the browser could not show it, there is no reason to give
  const body = response ? await response.json().catch(() => ({})) : {};
  const reason = body.detail || (response ? `the server answered ${response.status}` : "the server did not answer");
  shown.replaceWith(el("div", { className: "unavailable", role: "note", textContent: `Not shown: ${reason}` }));
}

function card(result) {
  const like = el("button", { type: "button", textContent: "More like this" });
  like.addEventListener("click", () => moreLike(result));
  const more = el("button", { type: "button", textContent: "Details" });
  more.addEventListener("click", () => details(result));
  const segment = timeRange(result.segment);
  return el("article", { className: "card" }, preview(result),
    el("div", { className: "body" },
      el("span", { className: "name", textContent: fileName(result) }),
      el("span", { className: "score", textContent: `${result.relevance != null ? `relevance ${result.relevance.toFixed(2)} · ` : ""}score ${result.score.toFixed(3)}${segment ? " · " + segment : ""}` }),
      result.snippet ? snippetNode(result.snippet)
        : result.text && result.thumbnail_url ? el("span", { className: "meta", textContent: `“${result.text}”` }) : null,
      result.snippet ? el("span", { className: "meta channels", textContent: channelsText(result) }) : null,
      el("span", { className: "meta", textContent: metadataText(result.metadata) }),
      el("div", { className: "actions" }, like, more)));
}

function moreLike(result) {
  state.like = result.id;
  state.likeName = `like ${fileName(result)}${result.segment ? " @ " + result.segment.start.toFixed(1) + " s" : ""}`;
  state.file = null;
  $("q").value = "";
  showChip();
  if ($("detail").open) $("detail").close();
  search();
}

function showChip() {
  const label = state.file ? `file: ${state.file.name}` : state.like ? state.likeName : "";
  const chip = $("query-file");
  chip.hidden = !label;
  const clear = el("button", { type: "button", textContent: "×", title: "Clear" });
  clear.setAttribute("aria-label", "Clear this query part");
  clear.addEventListener("click", () => { state.file = null; state.like = null; $("file").value = ""; showChip(); search(); });
  chip.replaceChildren(label, clear);
}

async function details(result) {
  $("detail-title").textContent = fileName(result);
  const start = result.segment ? result.segment.start : 0;
  let media = null;
  if (result.modality === "video") media = player(result, start);
  else if (result.modality === "audio") {
    media = withReason(el("audio", { controls: true, src: `${result.media_url}#t=${start}` }), result.media_url);
  } else if (result.thumbnail_url) {
    const url = `${result.thumbnail_url}&side=512`;
    media = withReason(el("img", { src: url, alt: fileName(result) }), url);
  }
  $("detail-media").replaceChildren(...(media ? [media] : []));
  const rows = [["score", result.score.toFixed(4)], ["kind", result.modality], ["path", result.path || "—"],
                ["segment", timeRange(result.segment) || "—"], ["text", result.text || "—"],
                ...Object.entries(result.metadata).map(([k, v]) => [k, String(v)])];
  $("detail-meta").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
  $("detail-like").onclick = () => moreLike(result);
  $("explanation").replaceChildren();
  $("detail").showModal();
  const text = $("q").value.trim();
  if (text && result.modality === "image") explain(result, text);
}

async function explain(result, text) {
  $("explanation").replaceChildren(el("p", { className: "muted", textContent: "Explaining the match…" }));
  const params = new URLSearchParams({ id: result.id, text });
  const response = await fetch(`/api/explain?${params}`, { headers: headers() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    $("explanation").replaceChildren(el("p", { className: "error", textContent: `No explanation: ${body.detail || response.status}` }));
    return;
  }
  const parts = [el("h3", { textContent: `Why “${text}” matched (score ${body.score.toFixed(3)})` })];
  parts.push(shareTable("Word", body.words.map((w) => [w.word, w.share])));
  if (body.classes.length) parts.push(shareTable("What the image model saw", body.classes.map((c) => [c.name, c.share])));
  $("explanation").replaceChildren(...parts);
}

function shareTable(title, rows) {
  const largest = Math.max(1e-6, ...rows.map(([, share]) => Math.abs(share)));
  const body = rows.map(([name, share]) => {
    const bar = el("span", { className: share < 0 ? "bar neg" : "bar" });
    bar.style.width = `${Math.round(80 * Math.abs(share) / largest)}px`;
    return el("tr", {}, el("td", { textContent: name }), el("td", { textContent: share.toFixed(3) }), el("td", {}, bar));
  });
  return el("table", { className: "shares" },
    el("thead", {}, el("tr", {}, el("th", { textContent: title }), el("th", { textContent: "share of score" }), el("th"))),
    el("tbody", {}, ...body));
}

function takeFile(file) {
  if (!file) return;
  state.file = file;
  state.like = null;
  showChip();
  search();
}

function later() {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => search(), 250);
}

async function loadInfo() {
  const response = await fetch("/api/info", { headers: headers() });
  const info = await response.json().catch(() => ({}));
  if (!response.ok) { $("collection").textContent = `Collection: ${info.detail || response.status}`; return; }
  $("collection").textContent = `${info.items} items · model ${info.model}`;
  $("file").accept = info.modalities.map((m) => (m === "text" ? "" : `${m}/*`)).filter(Boolean).join(",");
}

function setUp() {
  $("search").addEventListener("submit", (event) => { event.preventDefault(); search(); });
  $("q").addEventListener("input", later);
  for (const id of ["k", "modality", "segments", "mode", "by-face"]) $(id).addEventListener("change", () => search());
  $("where").addEventListener("change", () => search());
  $("key").addEventListener("change", () => { localStorage.setItem("mmret-key", $("key").value.trim()); loadInfo(); search(); });
  $("file").addEventListener("change", () => takeFile($("file").files[0]));
  $("more").addEventListener("click", () => search(true));
  $("below").addEventListener("click", () => { state.showBelow = true; showBelowCut(); $("more").hidden = !state.hasMore; });
  const drop = $("drop");
  drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("file").click(); } });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); takeFile(event.dataTransfer.files[0]); });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && document.activeElement !== $("q") && !$("detail").open) { event.preventDefault(); $("q").focus(); }
  });
  fromUrl();
  loadInfo();
  search();
}

setUp();
