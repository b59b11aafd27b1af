// ganforge explore: the page's behaviour. Plain script, no libraries, nothing fetched from elsewhere.
//
// Each view (grid, selected sample, style mixing, interpolation, directions figure) asks the
// server for its picture and the command that makes it. A view has at most one request in flight:
// inputs that arrive meanwhile are folded into one follow-up request with the latest settings,
// so a dragged slider never queues stale images.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  sid: null, info: null, start: 0, psi: 1, cls: 0, layers: "all", edits: [],
  src: { kind: "seed", seed: 0 }, seed2: 1, uploads: {},
};

function message(text, isError) {
  const m = $("msg");
  m.textContent = text || "";
  m.className = isError ? "error" : "";
}

async function api(path, params, options) {
  const q = new URLSearchParams({ sid: state.sid, ...params });
  const resp = await fetch(`${path}?${q}`, options);
  const data = await resp.json();
  if (data.error) throw new Error(data.error);
  return data;
}

function common() {
  const p = { psi: state.psi.toFixed(2) };
  if (state.info.classes.length) p.cls = state.cls;
  return p;
}

function srcParams() {
  return state.src.kind === "seed" ? { src: "seed", seed: state.src.seed } : { src: `upload:${state.src.id}` };
}

function editsParam() {
  return state.edits.map((a, k) => [k, a]).filter(([, a]) => a !== 0).map(([k, a]) => `${k}:${a.toFixed(2)}`).join(",");
}

// A view: request() fetches now, or once the running fetch is done (only the newest settings wait).
// Its element carries data-wanted (the newest request) and data-version (the one shown): equal
// when the view is up to date, which is what the browser test waits for.
function makeView(name, elementId, fetcher, show) {
  const view = { busy: false, again: false, version: 0, inputAt: 0 };
  view.request = () => {
    view.version += 1;
    view.inputAt = performance.now();
    $(elementId).dataset.wanted = String(view.version);
    if (view.busy) { view.again = true; return; }
    run();
  };
  async function run() {
    view.busy = true;
    const version = view.version;
    const t0 = view.inputAt;
    try {
      const data = await fetcher();
      if (!data.superseded) await show(data, version, t0);
    } catch (e) {
      message(`${name}: ${e.message}`, true);
    } finally {
      $(elementId).dataset.version = String(version);
      view.busy = false;
      if (view.again) { view.again = false; run(); }
    }
  }
  return view;
}

async function setImage(img, url) {
  img.src = url;
  try { await img.decode(); } catch (e) { /* an image replaced before it decoded */ }
}

function setCommand(id, text) { $(id).textContent = text; }

function setSave(id, href, file) {
  const a = $(id);
  a.href = href;
  a.download = file;
}

// ------------------------------------------------------------------ the views
const gridView = makeView("samples", "grid", () => api("/api/grid", { start: state.start, ...common() }), async (data) => {
  const grid = $("grid");
  grid.replaceChildren();
  data.images.forEach((url, i) => {
    const seed = data.seeds[i];
    const b = document.createElement("button");
    b.type = "button";
    b.title = `seed ${seed}`;
    b.dataset.seed = seed;
    const img = document.createElement("img");
    img.alt = `seed ${seed}`;
    img.src = url;
    b.append(img);
    b.addEventListener("click", (ev) => (ev.shiftKey ? setSeed2(seed) : select({ kind: "seed", seed })));
    grid.append(b);
  });
  markSelection();
  setCommand("grid-cmd", data.command);
  setSave("grid-save", data.download, data.file);
});

const sampleView = makeView("sample", "sample", () => api("/api/sample", { ...srcParams(), ...common(), layers: state.layers,
  edits: editsParam() }), async (data, version, t0) => {
  const img = $("sample");
  await setImage(img, data.image);
  img.dataset.latencyMs = (performance.now() - t0).toFixed(1);
  setCommand("sample-cmd", data.command);
  setSave("sample-save", data.download, data.file);
});

function figureView(name, path, params, id) {
  return makeView(name, id, () => api(path, params()), async (data) => {
    await setImage($(id), data.image);
    setCommand(`${id}-cmd`, data.command);
    setSave(`${id}-save`, data.image, data.file);
  });
}

const mixView = figureView("style mixing", "/api/mix", () => ({ ...srcParams(), ...common(), seed2: state.seed2,
  mix: mixLayers() }), "mix");
const interpView = figureView("interpolation", "/api/interp", () => ({ ...common(), a: state.src.seed,
  b: state.seed2, steps: $("steps").value }), "interp");
const figView = figureView("directions figure", "/api/figure", () => ({ ...srcParams(), ...common(),
  layers: state.layers }), "figure");

function mixLayers() {
  const v = $("mix-layers").value;
  return v === "range" ? `${$("mix-a").value}-${$("mix-b").value}` : v;
}

// ------------------------------------------------------------------ what changes what
function refreshSelected() {
  sampleView.request();
  if (state.info.w_space) mixView.request();
  if (state.src.kind === "seed") interpView.request();
  if (!$("figure-panel").hidden) figView.request();
}

function select(src) {
  state.src = src;
  $("selected-name").textContent = src.kind === "seed" ? `seed ${src.seed}` : src.name;
  $("interp-panel").classList.toggle("disabled", src.kind !== "seed");
  markSelection();
  refreshSelected();
}

function setSeed2(seed) {
  state.seed2 = seed;
  $("seed2").value = seed;
  markSelection();
  if (state.info.w_space) mixView.request();
  if (state.src.kind === "seed") interpView.request();
}

function markSelection() {
  for (const b of document.querySelectorAll("#grid button")) {
    const seed = Number(b.dataset.seed);
    b.classList.toggle("selected", state.src.kind === "seed" && state.src.seed === seed);
    b.classList.toggle("second", state.seed2 === seed);
  }
  for (const b of document.querySelectorAll("#uploads button")) {
    b.classList.toggle("selected", state.src.kind === "upload" && state.src.id === b.dataset.id);
  }
}

function buildSliders(dirs) {
  const box = $("sliders");
  box.replaceChildren();
  state.edits = dirs.share.map(() => 0);
  $("dir-method").textContent = dirs.method === "sefa"
    ? `SeFa on ws ${dirs.layers[0]}-${dirs.layers[1] - 1}` : "PCA of the images, in Z";
  dirs.share.forEach((share, k) => {
    const row = document.createElement("div");
    row.className = "slider";
    const label = document.createElement("label");
    label.htmlFor = `dir-${k}`;
    label.textContent = `direction ${k} (${(100 * share).toFixed(1)}%)`;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", id: `dir-${k}`, min: -3, max: 3, step: 0.1, value: 0 });
    const out = document.createElement("output");
    out.textContent = "0";
    input.addEventListener("input", () => {
      state.edits[k] = Number(input.value);
      out.textContent = Number(input.value).toFixed(1);
      sampleView.request();
    });
    row.append(label, input, out);
    box.append(row);
  });
}

// ------------------------------------------------------------------ uploads
async function upload(file) {
  const max = state.info.max_upload_bytes;
  if (file.size > max) {
    message(`that file is ${(file.size / 2 ** 20).toFixed(1)} MB; the page takes pictures of up to ${max / 2 ** 20} MB`, true);
    return;
  }
  const bar = $("proj-progress");
  try {
    const data = await api("/api/upload", {}, { method: "POST", body: file, headers: {
      "X-Ganforge": "1", "Content-Type": file.type || "application/octet-stream",
      "X-Filename": encodeURIComponent(file.name) } });
    bar.hidden = false;
    bar.value = 0;
    $("proj-state").textContent = `projecting ${data.name}...`;
    setCommand("upload-cmd", data.command);
    await poll(data.id, data.name);
  } catch (e) {
    message(`upload: ${e.message}`, true);
    $("proj-state").textContent = "";
    bar.hidden = true;
  } finally {
    $("file").value = "";
  }
}

async function poll(id, name) {
  for (;;) {
    const st = await api("/api/upload", { id });
    $("proj-progress").value = st.progress;
    if (st.state === "failed") throw new Error(st.error);
    if (st.state === "done") break;
    await new Promise((r) => setTimeout(r, 250));
  }
  $("proj-state").textContent = `${name}: projected`;
  $("proj-progress").hidden = true;
  state.uploads[id] = name;
  const data = await api("/api/sample", { src: `upload:${id}`, ...common() });
  const b = document.createElement("button");
  b.type = "button";
  b.dataset.id = id;
  b.title = name;
  const img = document.createElement("img");
  img.alt = `projection of ${name}`;
  img.src = data.image;
  b.append(img);
  b.addEventListener("click", () => select({ kind: "upload", id, name }));
  $("uploads").append(b);
  select({ kind: "upload", id, name });
  message(`${name} projected: edit it with the sliders, mix it with a seed`);
}

// ------------------------------------------------------------------ start
function wire() {
  $("psi").addEventListener("input", () => {
    state.psi = Number($("psi").value);
    $("psi-value").textContent = state.psi.toFixed(2);
    gridView.request();
    refreshSelected();
  });
  const page = (delta) => {
    state.start = Math.max(0, state.start + delta);
    $("start").value = state.start;
    gridView.request();
  };
  $("prev").addEventListener("click", () => page(-state.info.grid));
  $("next").addEventListener("click", () => page(state.info.grid));
  $("start").addEventListener("change", () => page(Math.max(0, Number($("start").value) || 0) - state.start));
  $("cls").addEventListener("change", () => {
    state.cls = Number($("cls").value);
    gridView.request();
    refreshSelected();
  });
  $("layers").addEventListener("change", async () => {
    state.layers = $("layers").value;
    try {
      buildSliders(await api("/api/directions", { layers: state.layers }));
      refreshSelected();
    } catch (e) { message(`directions: ${e.message}`, true); }
  });
  $("reset").addEventListener("click", () => {
    for (const input of document.querySelectorAll("#sliders input")) input.value = 0;
    for (const out of document.querySelectorAll("#sliders output")) out.textContent = "0";
    state.edits = state.edits.map(() => 0);
    sampleView.request();
  });
  $("show-figure").addEventListener("click", () => { $("figure-panel").hidden = false; figView.request(); });
  $("seed2").addEventListener("change", () => setSeed2(Math.max(0, Number($("seed2").value) || 0)));
  $("mix-layers").addEventListener("change", () => {
    $("mix-range").hidden = $("mix-layers").value !== "range";
    mixView.request();
  });
  for (const id of ["mix-a", "mix-b"]) $(id).addEventListener("change", () => mixView.request());
  $("steps").addEventListener("change", () => interpView.request());
  $("file").addEventListener("change", () => { if ($("file").files[0]) upload($("file").files[0]); });
  for (const b of document.querySelectorAll("button.copy")) {
    b.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText($(b.dataset.for).textContent); message("command copied"); }
      catch (e) { message("select the command and copy it by hand"); }
    });
  }
}

function describe(info) {
  $("run-info").textContent = `${info.run}: ${info.family}, ${info.img_size} px, step ${info.step}`;
  if (info.classes.length) {
    $("class-control").hidden = false;
    info.classes.forEach((name, i) => $("cls").append(new Option(`${i}: ${name}`, String(i))));
  }
  if (info.w_space) {
    $("layers-control").hidden = false;
    const last = info.num_ws - 1;
    for (const id of ["mix-a", "mix-b"]) $(id).max = last;
    $("upload-note").textContent = `Upload a picture: it is projected into W (${info.project_steps} steps), ` +
      "then it can be edited and mixed like any sample.";
  } else {
    $("mix-panel").hidden = true;
    $("upload-note").textContent = "Projecting a picture needs a style-based generator (a StyleGAN2 run); " +
      "this run has no W space.";
    $("file").disabled = true;
  }
}

async function start() {
  try {
    const resp = await fetch("/api/session", { method: "POST", headers: { "X-Ganforge": "1" } });
    const info = await resp.json();
    if (info.error) throw new Error(info.error);
    state.sid = info.sid;
    state.info = info;
    describe(info);
    buildSliders(info.directions);
    wire();
    gridView.request();
    select({ kind: "seed", seed: 0 });
    document.body.dataset.ready = "1";
  } catch (e) {
    message(`could not start: ${e.message}`, true);
  }
}

start();
