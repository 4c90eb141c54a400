// camserve explorer: fills the model, method and layer choices from the JSON
// API (GET /v1/models, GET /v1/models/{model}), sends the picked image to
// POST /v1/explain with a FLOAT32 heatmap at the model's input size, and
// draws the heatmap and its overlay on canvases (jet colormap, as the
// server's PNG encodings), with the top classes and the server's stage
// timings. No framework, no external resources.
"use strict";

const elements = {};
let imageBase64 = null;  // the picked file, base64
let imageUrl = null;     // an object URL of it, for drawing
let modelInfo = {};      // model name -> ModelInfo (JSON mapping)

function $(id) { return document.getElementById(id); }

function headers() {
  const result = { "Content-Type": "application/json" };
  const token = elements.token.value.trim();
  if (token) result.Authorization = "Bearer " + token;
  return result;
}

// Calls the JSON API; throws {code, error} for an error answer.
async function api(path, body) {
  const response = await fetch(path, body === undefined
    ? { headers: headers() }
    : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  let answer;
  try {
    answer = await response.json();
  } catch (e) {
    throw { code: "HTTP " + response.status, error: "the answer is not JSON" };
  }
  if (!response.ok) throw { code: answer.code || "HTTP " + response.status, error: answer.error || "" };
  return answer;
}

function showError(failure) {
  elements.error.hidden = false;
  elements.error.textContent = failure.code + ": " + failure.error;
}

function clearError() {
  elements.error.hidden = true;
  elements.error.textContent = "";
}

function fillSelect(select, values, chosen) {
  select.replaceChildren(...values.map((value) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = value;
    option.selected = value === chosen;
    return option;
  }));
}

async function loadModels() {
  clearError();
  try {
    const names = (await api("/v1/models")).models;
    modelInfo = {};
    for (const name of names) modelInfo[name] = (await api("/v1/models/" + encodeURIComponent(name))).info;
    const preferred = names.find((name) => modelInfo[name].isDefault) || names[0];
    fillSelect(elements.model, names, preferred);
    modelChanged();
    elements.status.textContent = "serving " + names.length + " model" + (names.length === 1 ? "" : "s");
  } catch (failure) {
    elements.status.textContent = failure.code === "UNAUTHENTICATED" ? "this server needs a token" : "not connected";
    showError(failure);
  }
  updateButton();
}

function modelChanged() {
  const info = modelInfo[elements.model.value];
  if (!info) return;
  fillSelect(elements.method, info.methods, info.methods.includes(elements.method.value) ? elements.method.value
                                                                                          : info.methods[0]);
  fillSelect(elements.layer, info.targetLayers, info.defaultLayer);
  elements.classInput.max = info.numClasses - 1;
}

function updateButton() {
  elements.button.disabled = imageBase64 === null || elements.model.value === "";
}

function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; ++i) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function pickFile(file) {
  if (!file) return;
  clearError();
  imageBase64 = bytesToBase64(new Uint8Array(await file.arrayBuffer()));
  if (imageUrl) URL.revokeObjectURL(imageUrl);
  imageUrl = URL.createObjectURL(file);
  let preview = elements.dropZone.querySelector("img");
  if (!preview) {
    preview = document.createElement("img");
    preview.alt = "the picked image";
    elements.dropZone.prepend(preview);
  }
  preview.src = imageUrl;
  updateButton();
}

// Jet: blue -> cyan -> yellow -> red, for v in [0, 1].
function jet(v) {
  const channel = (offset) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - offset))));
  return [channel(3), channel(2), channel(1)];
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject({ code: "IMAGE", error: "the browser cannot draw this image" });
    image.src = url;
  });
}

async function drawHeatmap(heatmap) {
  const width = heatmap.width;
  const height = heatmap.height;
  const view = new DataView(base64ToBytes(heatmap.data).buffer);
  const canvases = [elements.heatmapCanvas, elements.overlayCanvas];
  for (const canvas of canvases) {
    canvas.width = width;
    canvas.height = height;
  }
  const heat = elements.heatmapCanvas.getContext("2d").createImageData(width, height);
  for (let i = 0; i < width * height; ++i) {
    const [r, g, b] = jet(view.getFloat32(4 * i, true));
    heat.data.set([r, g, b, 255], 4 * i);
  }
  elements.heatmapCanvas.getContext("2d").putImageData(heat, 0, 0);
  // The overlay: the image at the heatmap's size, half covered by the colours.
  const overlay = elements.overlayCanvas.getContext("2d");
  overlay.drawImage(await loadImage(imageUrl), 0, 0, width, height);
  const pixels = overlay.getImageData(0, 0, width, height);
  for (let i = 0; i < pixels.data.length; i += 4) {
    for (let c = 0; c < 3; ++c) pixels.data[i + c] = Math.round(0.5 * pixels.data[i + c] + 0.5 * heat.data[i + c]);
  }
  overlay.putImageData(pixels, 0, 0);
}

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "number";
  row.appendChild(td);
}

function showAnswer(answer, roundTripMs) {
  const classes = elements.classesTable.tBodies[0];
  classes.replaceChildren();
  for (const score of answer.topK) {
    const row = classes.insertRow();
    cell(row, String(score.classIndex), true);
    cell(row, score.label, false);
    cell(row, score.probability.toFixed(4), true);
  }
  const timings = elements.timingsTable.tBodies[0];
  timings.replaceChildren();
  for (const [stage, micros] of Object.entries(answer.timings)) {
    if (Number(micros) === 0 && stage !== "totalUs") continue;
    const row = timings.insertRow();
    cell(row, stage.replace(/Us$/, ""), false);
    cell(row, (Number(micros) / 1000).toFixed(2), true);
  }
  elements.summary.replaceChildren();
  const target = document.createElement("strong");
  target.id = "target-class";
  target.textContent = String(answer.targetClass);
  elements.summary.append("class ", target,
                          ` (${answer.targetLabel}, p = ${answer.targetProbability.toFixed(4)}) · ${answer.model} · ` +
                          `cache hit: ${answer.cacheHit ? "yes" : "no"} · batch ${answer.batchSize} · ` +
                          `${roundTripMs.toFixed(1)} ms round trip`);
  elements.results.hidden = false;
}

async function explain() {
  clearError();
  elements.button.disabled = true;
  const request = {
    image: imageBase64,
    model: elements.model.value,
    method: elements.method.value,
    targetLayer: elements.layer.value,
    topK: 5,
    resolution: "HEATMAP_RESOLUTION_INPUT",
    encoding: "HEATMAP_ENCODING_FLOAT32",
  };
  if (elements.classInput.value !== "") request.targetClass = Number(elements.classInput.value);
  const start = performance.now();
  try {
    const answer = await api("/v1/explain", request);
    const roundTripMs = performance.now() - start;
    await drawHeatmap(answer.heatmap);
    showAnswer(answer, roundTripMs);
  } catch (failure) {
    showError(failure);
  }
  updateButton();
}

document.addEventListener("DOMContentLoaded", () => {
  Object.assign(elements, {
    status: $("server-status"), dropZone: $("drop-zone"), file: $("image-input"), model: $("model-select"),
    method: $("method-select"), layer: $("layer-select"), classInput: $("class-input"), token: $("token-input"),
    button: $("explain-button"), error: $("error"), results: $("results"), summary: $("summary"),
    heatmapCanvas: $("heatmap-canvas"), overlayCanvas: $("overlay-canvas"), classesTable: $("classes-table"),
    timingsTable: $("timings-table"),
  });
  elements.token.value = sessionStorage.getItem("camserve-token") || "";
  elements.token.addEventListener("change", () => {
    sessionStorage.setItem("camserve-token", elements.token.value.trim());
    loadModels();
  });
  elements.file.addEventListener("change", () => pickFile(elements.file.files[0]));
  elements.dropZone.addEventListener("dragover", (event) => {
    event.preventDefault();
    elements.dropZone.classList.add("dragging");
  });
  elements.dropZone.addEventListener("dragleave", () => elements.dropZone.classList.remove("dragging"));
  elements.dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    elements.dropZone.classList.remove("dragging");
    pickFile(event.dataTransfer.files[0]);
  });
  elements.model.addEventListener("change", modelChanged);
  elements.button.addEventListener("click", explain);
  loadModels();
});
