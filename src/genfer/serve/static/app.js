// genfer's web page: every result comes from this server's HTTP API (/recognize, /explain, /neutralize, /invert,
// /transfer); no library, no build step.
"use strict";

const COLOURS = {neutral: "rgb(150,150,150)", happiness: "rgb(255,200,0)", surprise: "rgb(0,200,255)",
  sadness: "rgb(60,90,255)", anger: "rgb(255,40,40)", disgust: "rgb(60,170,60)", fear: "rgb(170,60,220)",
  contempt: "rgb(255,120,200)"};
const $ = (id) => document.getElementById(id);
let tasks = [];
let ready = null;  // resolves once GET /health has said which tasks this server serves
let first = null;  // the analysed photo: {blob, name}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "style") Object.assign(e.style, value); else e.setAttribute(key, value);
  }
  e.append(...children);
  return e;
}

async function api(path, files) {
  const form = new FormData();
  for (const [field, file] of Object.entries(files)) form.append(field, file.blob, file.name);
  const response = await fetch(path, {method: "POST", body: form});
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function status(text) { $("status").textContent = text; }
function showError(error) { $("error").textContent = String(error.message || error); status(""); }

function bars(probabilities) {
  const rows = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  return el("div", {class: "bars"}, ...rows.map(([name, p]) => el("div", {class: "bar"},
    el("span", {class: "name"}, name),
    el("span", {class: "track"}, el("div", {class: "fill", style: {width: `${100 * p}%`, background: COLOURS[name]}})),
    el("span", {class: "p"}, p.toFixed(3)))));
}

function overlay(faces, width, height) {
  const photo = $("photo");
  photo.querySelectorAll(".box, .dot").forEach((e) => e.remove());
  const pct = (v, size) => `${100 * v / size}%`;
  faces.forEach((face, k) => {
    const [x, y, w, h] = face.box;
    const colour = COLOURS[face.label] || "#fff";
    const label = el("span", {class: "label", style: {background: colour}},
      `${k + 1}: ${face.label} ${face.probabilities[face.label].toFixed(2)}`);
    photo.append(el("div", {class: "box", "data-face": k, style: {left: pct(x, width), top: pct(y, height),
      width: pct(w, width), height: pct(h, height), borderColor: colour}}, label));
    for (const [px, py] of face.landmarks || []) {
      photo.append(el("div", {class: "dot", style: {left: pct(px, width), top: pct(py, height)}}));
    }
  });
}

function faceCards(result) {
  const cards = result.faces.map((face, k) => {
    const note = face.source === "whole-image" ? " (no face detected: the whole image)" : ` via ${face.source}`;
    return el("div", {class: "face-card", "data-face": k},
      el("h3", {}, el("span", {class: "face-label"}, `face ${k + 1}: ${face.label}`), el("span", {class: "note"}, note)),
      bars(face.probabilities), el("div", {class: "generated"}));
  });
  $("faces").replaceChildren(...cards);
  if (result.error) $("faces").append(el("p", {class: "error"}, result.error));
}

function addImages(result, key, caption, cls) {
  result.faces.forEach((face, k) => {
    const card = $("faces").querySelector(`.face-card[data-face="${k}"] .generated`);
    if (card && face[key]) card.append(el("figure", {}, el("img", {class: cls, src: face[key], alt: caption}), caption));
  });
}

async function analyse(file) {
  first = file;
  $("error").textContent = "";
  $("faces").replaceChildren();
  $("transfer-result").replaceChildren();
  const img = $("photo-img");
  img.src = URL.createObjectURL(file.blob);
  $("result").hidden = false;
  status("recognising ...");
  try {
    await ready;
    const result = await api("/recognize", {image: file});
    await img.decode();
    overlay(result.faces, img.naturalWidth, img.naturalHeight);
    faceCards(result);
    if (!result.faces.length) { status(""); return; }
    status("explanations, poker faces and inversions ...");
    // the requests at once; shown in a fixed order (saliency overlay, poker face, inversion)
    const served = (task) => tasks.includes(task) ? api(`/${task}`, {image: file}) : null;
    const [explained, neutralized, inverted] = ["explain", "neutralize", "invert"].map(served);
    if (explained) addImages(await explained, "overlay", "where it looked", "overlay");
    if (neutralized) addImages(await neutralized, "poker_face", "poker face", "poker-face");
    if (inverted) addImages(await inverted, "reconstruction", "inversion", "inversion");
    $("transfer").hidden = !tasks.includes("transfer");
    status(`${result.faces.length} face(s)`);
  } catch (error) {
    showError(error);
  }
}

async function transfer(second) {
  $("second-name").textContent = second.name;
  $("error").textContent = "";
  status("transferring ...");
  try {
    const r = await api("/transfer", {source: first, reference: second});
    if (r.error) throw new Error(r.error);
    const figure = (key, text) => el("figure", {}, el("img", {class: key, src: r.outputs[key], alt: text}),
      `${text} (reads as ${r.recognized[key].label})`);
    $("transfer-result").replaceChildren(
      figure("source_with_reference_expression", `photo 1 with photo 2's expression (${r.expressions.reference})`),
      figure("reference_with_source_expression", `photo 2 with photo 1's expression (${r.expressions.source})`),
      el("figure", {}, el("img", {class: "grid", src: r.grid, alt: "grid", style: {width: "200px", height: "200px"}}),
        "inputs (top), outputs (bottom)"));
    status("transferred");
  } catch (error) {
    showError(error);
  }
}

function fromInput(input) {
  const f = input.files[0];
  return f ? {blob: f, name: f.name} : null;
}

async function webcam() {
  const video = $("video");
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: true});
    video.hidden = false;
    $("snap").hidden = false;
  } catch (error) {
    showError(new Error(`no webcam: ${error.message || error}`));
  }
}

function snap() {
  const video = $("video");
  const canvas = el("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => analyse({blob, name: "webcam.png"}), "image/png");
}

function setup() {
  const drop = $("drop");
  $("file").addEventListener("change", () => { const f = fromInput($("file")); if (f) analyse(f); });
  $("file2").addEventListener("change", () => { const f = fromInput($("file2")); if (f && first) transfer(f); });
  $("webcam").addEventListener("click", webcam);
  $("snap").addEventListener("click", snap);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer.files[0];
    if (f) analyse({blob: f, name: f.name});
  });
  if (!navigator.mediaDevices) $("webcam").hidden = true;
  ready = fetch("/health").then((r) => r.json()).then((h) => { tasks = h.tasks || []; }).catch(showError);
}

setup();
