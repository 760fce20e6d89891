// The page's view of near-duplicate groups (GET /api/duplicates): each group a row, its best copy first, every other
// copy with its similarity to the best and the distance (1 - similarity). Uses el() and headers() from app.js.
"use strict";

function copyCard(copy, best) {
  const name = copy.path ? copy.path.split("/").pop() : copy.id;
  const label = best ? "best copy" : copy.exact ? "exact copy" :
    `similarity ${copy.similarity.toFixed(3)} · distance ${(1 - copy.similarity).toFixed(3)}`;
  const picture = copy.modality === "image" || copy.modality === "video"
    ? el("img", { className: "thumb", loading: "lazy", alt: `${copy.modality} ${name}`,
                  src: `/api/thumbnail?id=${encodeURIComponent(copy.id)}` })
    : el("div", { className: "textcard", textContent: name });
  return el("article", { className: best ? "card best" : "card" }, picture,
    el("div", { className: "body" }, el("span", { className: "name", textContent: name }),
      el("span", { className: "score", textContent: label })));
}

async function showDuplicates() {
  const view = $("duplicates");
  view.hidden = false;
  view.replaceChildren(el("p", { className: "muted", textContent: "Looking for copies…" }));
  const response = await fetch("/api/duplicates", { headers: headers() });
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) { view.replaceChildren(el("p", { className: "error", textContent: `${response.status}: ${body.detail}` })); return; }
  const close = el("button", { type: "button", textContent: "Close" });
  close.addEventListener("click", () => { view.hidden = true; });
  const copies = body.groups.reduce((sum, group) => sum + group.copies.length - 1, 0);
  view.replaceChildren(el("h2", { textContent: `${body.groups.length} groups of copies (${copies} besides the best)` }),
    el("p", { className: "muted", textContent: `similarity ≥ ${body.threshold} in the ${body.space} space` }), close,
    ...body.groups.map((group) => el("section", { className: "group grid", ariaLabel: "copies" },
      ...group.copies.map((copy, at) => copyCard(copy, at === 0)))));
}

$("show-duplicates").addEventListener("click", showDuplicates);
