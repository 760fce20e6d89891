// Faces on the search page: a face result's box drawn on its thumbnail, and the People view. The face routes
// need the server's write key (the API key field), even where searching does not.
"use strict";

function drawFaceBox(picture, result) {
  const box = result.metadata.face_box;
  const frame = result.metadata.face_frame;
  if (!box || !frame || result.modality !== "image") return;
  picture.addEventListener("load", () => {
    const canvas = document.createElement("canvas");
    canvas.width = picture.naturalWidth;
    canvas.height = picture.naturalHeight;
    const scale = canvas.width / frame[0];
    const context = canvas.getContext("2d");
    context.drawImage(picture, 0, 0);
    context.strokeStyle = "#ffd400";
    context.lineWidth = Math.max(2, canvas.width / 80);
    context.strokeRect(box[0] * scale, box[1] * scale, (box[2] - box[0]) * scale, (box[3] - box[1]) * scale);
    picture.src = canvas.toDataURL("image/jpeg");
  }, { once: true });
}

async function facesCall(path, form) {
  const response = await fetch(path, { method: form ? "POST" : "GET", body: form, headers: headers() });
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) throw new Error(`${response.status}: ${body.detail || "the request failed"}`);
  return body;
}

function personCard(person) {
  const picture = el("img", { className: "thumb", src: person.sample.thumbnail_url, loading: "lazy",
                              alt: `a face of ${person.name || person.person}` });
  drawFaceBox(picture, { modality: "image", metadata: { face_box: person.sample.box, face_frame: person.sample.frame } });
  const name = el("button", { type: "button", textContent: "Name…" });
  name.addEventListener("click", async () => {
    const given = prompt(`Name ${person.person}`, person.name || "");
    if (!given) return;
    const form = new FormData();
    form.append("name", given);
    await facesCall(`/api/faces/people/${encodeURIComponent(person.person)}/name`, form).catch((e) => showError(e.message));
    showPeople();
  });
  return el("article", { className: "card" }, picture,
    el("div", { className: "body" },
      el("span", { className: "name", textContent: person.name || `${person.person} (unnamed)` }),
      el("span", { className: "meta", textContent: `${person.faces} faces in ${person.files} files` }),
      el("div", { className: "actions" }, name)));
}

async function showPeople() {
  try {
    const people = await facesCall("/api/faces/people");
    $("people-list").replaceChildren(...people.map(personCard));
    $("people-status").textContent = people.length ? `${people.length} people` : "No people yet: group the faces.";
    if (!$("people").open) $("people").showModal();
  } catch (error) {
    showError(`People: ${error.message}`);
  }
}

function setUpFaces() {
  $("show-people").addEventListener("click", showPeople);
  $("group-faces").addEventListener("click", async () => {
    const grouped = await facesCall("/api/faces/cluster", new FormData()).catch((e) => showError(e.message));
    if (grouped) showPeople();
  });
}

setUpFaces();
