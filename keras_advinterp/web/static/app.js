// The page: plain JavaScript, no build step. One request per settled slider
// position (debounced); a newer request aborts the one in flight, and an
// answer that arrives after a newer one started is dropped.
"use strict";

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 60;
const state = { model: null, image: null, attack: "fgsm", eps255: 8, cam: false, camMethod: "cam",
  camClass: null, saliency: false, transfer: "", info: null };
let pending = null, timer = null, sequence = 0, updates = 0;

function fmtEps(e255) { return `${Number(e255).toFixed(1).replace(/\.0$/, "")}/255 (${(e255 / 255).toFixed(4)})`; }

function showMessage(text) {
  const m = $("message");
  m.textContent = text || "";
  m.hidden = !text;
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = { error: `${response.status} ${response.statusText}` }; }
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function setOptions(select, items, selected) {
  select.replaceChildren(...items.map(([value, text, disabled, title]) => {
    const o = new Option(text, value, false, value === selected);
    o.disabled = !!disabled;
    if (title) o.title = title;
    return o;
  }));
}

function renderTop5(list, items, labelIndex) {
  list.replaceChildren(...items.map((c) => {
    const li = document.createElement("li");
    li.dataset.index = c.index;
    li.title = `explain class ${c.name}`;
    if (c.index === labelIndex) li.classList.add("label");
    if (state.cam && c.index === state.camClassShown) li.classList.add("explained");
    const name = document.createElement("span"); name.textContent = c.name;
    const bar = document.createElement("span"); bar.className = "bar"; bar.style.width = `${Math.max(c.p, 0.5)}%`;
    const p = document.createElement("span"); p.className = "p"; p.textContent = `${c.p.toFixed(2)}%`;
    li.append(name, bar, p);
    li.addEventListener("click", () => { state.camClass = c.index; state.cam = true; $("cam-toggle").checked = true; update(0); });
    return li;
  }));
}

function render(r) {
  state.camClassShown = r.cam ? r.cam.class.index : null;
  $("img-clean").src = r.images.clean;
  $("img-adv").src = r.images.adversarial;
  $("img-delta").src = r.images.perturbation;
  $("delta-caption").textContent = `perturbation x${r.perturbation.amplification} (Linf ${r.perturbation.linf_255}/255, L2 ${r.perturbation.l2.toFixed(3)})`;
  const changed = r.adversarial.changed;
  $("adv-caption").innerHTML = "";
  const span = document.createElement("span");
  span.className = changed ? "changed" : "kept";
  span.textContent = changed ? `fooled: ${r.label.name} -> ${r.adversarial.pred_name}` : `still ${r.label.name}`;
  $("adv-caption").append(`${r.attack.toUpperCase()} at eps ${r.eps_255}/255: `, span);
  $("adv-title").textContent = `adversarial (${r.attack.toUpperCase()}, eps ${r.eps_255}/255)`;
  renderTop5($("clean-top5"), r.clean.top5, r.label.index);
  renderTop5($("adv-top5"), r.adversarial.top5, r.label.index);

  $("cam-row").hidden = !r.cam;
  if (r.cam) {
    $("cam-clean").src = r.cam.clean;
    $("cam-adv").src = r.cam.adversarial;
    $("cam-clean-caption").textContent = `${r.cam.method} of "${r.cam.class.name}", clean`;
    $("cam-adv-caption").textContent = `${r.cam.method} of "${r.cam.class.name}", adversarial (mean |change| ${r.cam.shift_l1})`;
  }
  $("saliency-row").hidden = !r.saliency;
  if (r.saliency) {
    $("sal-clean").src = r.saliency.clean;
    $("sal-adv").src = r.saliency.adversarial;
    $("sal-diff").src = r.saliency.difference;
    $("sal-caption").textContent = `S(adv) - S(clean): mean |diff| ${r.saliency.mean_abs_difference}, ` +
      `${(100 * r.saliency.changed_area).toFixed(1)}% of pixels moved > 0.1`;
  }
  $("transfer-panel").hidden = !r.transfer;
  if (r.transfer) {
    $("transfer-title").textContent = `${r.transfer.model} on the same adversarial image`;
    renderTop5($("transfer-top5"), r.transfer.top5, r.label.index);
    $("transfer-note").textContent = r.transfer.fooled
      ? `fooled too: its clean top-1 was ${r.transfer.clean_top5[0].name}`
      : `not fooled (clean top-1 ${r.transfer.clean_top5[0].name})`;
  }
  updates += 1;
  document.body.dataset.updates = updates;
  $("status").textContent = `${r.model}, ${r.attack} eps ${r.eps_255}/255: server ${r.server_ms} ms`;
}

function query() {
  const q = new URLSearchParams({ model: state.model, image: state.image, attack: state.attack,
    eps: `${state.eps255}/255` });
  if (state.cam) { q.set("cam", state.camMethod); if (state.camClass !== null) q.set("cam_class", state.camClass); }
  if (state.saliency) q.set("saliency", "1");
  if (state.transfer) q.set("transfer", state.transfer);
  return q;
}

function update(delay = DEBOUNCE_MS) {
  clearTimeout(timer);
  timer = setTimeout(run, delay);
}

async function run() {
  if (!state.model || !state.image) return;
  if (pending) pending.abort();
  const controller = new AbortController();
  pending = controller;
  const mine = ++sequence;
  document.body.classList.add("busy");
  try {
    const r = await api(`/api/attack?${query()}`, { signal: controller.signal });
    if (mine !== sequence) return;
    showMessage("");
    render(r);
    refreshDeepFool();
  } catch (e) {
    if (e.name !== "AbortError" && mine === sequence) showMessage(e.message);
  } finally {
    if (mine === sequence) { document.body.classList.remove("busy"); pending = null; }
  }
}

let dfTimer = null;
function refreshDeepFool() {
  clearTimeout(dfTimer);
  dfTimer = setTimeout(async () => {
    const q = new URLSearchParams({ model: state.model, image: state.image, eps: `${state.eps255}/255` });
    try {
      const d = await api(`/api/deepfool?${q}`);
      $("df-adv").src = d.images.adversarial;
      $("df-delta").src = d.images.perturbation;
      $("df-caption").textContent = d.success ? `DeepFool: ${d.adversarial.pred_name} (${d.adversarial.top5[0].p}%)`
        : "DeepFool did not flip the label";
      $("df-delta-caption").textContent = `perturbation x${d.amplification}`;
      const fgsm = d.fgsm_at_eps;
      $("df-text").textContent = `DeepFool flips "${d.label.name}" with Linf ${d.linf_255}/255 (L2 ${d.l2.toFixed(3)}, ` +
        `${d.iterations} iterations). The slider's eps ${d.eps_255}/255 is ${d.eps_over_minimal ?? "-"}x that; ` +
        `FGSM at this eps ${fgsm.changed ? "flips it to " + fgsm.pred_name : "keeps " + fgsm.pred_name}.`;
      $("deepfool-panel").dataset.linf255 = d.linf_255;
    } catch (e) {
      $("df-text").textContent = `DeepFool: ${e.message}`;
    }
  }, 150);
}

function renderSamples(samples) {
  const box = $("samples");
  box.replaceChildren(...samples.map((s) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.id = s.id;
    b.title = s.label ? `${s.name} (${s.label})` : s.name;
    b.setAttribute("aria-pressed", String(s.id === state.image));
    const img = document.createElement("img"); img.src = s.thumbnail; img.alt = b.title;
    b.append(img);
    b.addEventListener("click", () => selectImage(s.id));
    return b;
  }));
}

function selectImage(id) {
  state.image = id;
  state.camClass = null;
  for (const b of $("samples").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.id === id));
  update(0);
}

async function selectModel(name) {
  $("status").textContent = `loading ${name}...`;
  try {
    const info = await api(`/api/model?name=${encodeURIComponent(name)}`);
    state.model = name; state.info = info; state.camClass = null;
    setOptions($("cam-method"), info.cam_methods.map((m) => [m, m === "cam" ? "CAM" : "Grad-CAM"]), info.cam_methods[0]);
    state.camMethod = info.cam_methods[0];
    const targets = info.transfer_targets;
    state.transfer = targets.includes(state.transfer) ? state.transfer : (targets[0] || "");
    setOptions($("transfer"), [["", "(none)"], ...targets.map((t) => [t, t])], state.transfer);
    const uploads = [...$("samples").querySelectorAll("button")].filter((b) => b.dataset.id.startsWith("upload:"));
    renderSamples(info.samples);
    $("samples").append(...uploads);
    const ids = [...$("samples").querySelectorAll("button")].map((b) => b.dataset.id);
    selectImage(ids.includes(state.image) ? state.image : info.samples[0].id);
  } catch (e) {
    showMessage(e.message);
    $("model").value = state.model || "";
  }
}

async function uploadFile(file) {
  const form = new FormData();
  form.append("file", file);
  $("status").textContent = `uploading ${file.name}...`;
  try {
    const s = await api("/api/upload", { method: "POST", body: form });
    const b = document.createElement("button");
    b.type = "button"; b.dataset.id = s.id; b.title = s.name;
    const img = document.createElement("img"); img.src = s.thumbnail; img.alt = s.name;
    b.append(img);
    b.addEventListener("click", () => selectImage(s.id));
    $("samples").append(b);
    showMessage("");
    selectImage(s.id);
  } catch (e) {
    showMessage(`upload refused: ${e.message}`);
    $("status").textContent = "upload refused";
  }
}

async function start() {
  const meta = await api("/api/models");
  setOptions($("model"), meta.models.map((m) => [m.name, m.available ? m.name : `${m.name} (no weights)`, !m.available,
    m.available ? m.about : m.reason]), meta.default);
  setOptions($("attack"), Object.entries(meta.attacks).map(([k, about]) => [k, k.toUpperCase(), false, about]), "fgsm");
  $("eps").max = meta.eps_max_255;
  $("eps-value").textContent = fmtEps(state.eps255);
  $("model").addEventListener("change", (e) => selectModel(e.target.value));
  $("attack").addEventListener("change", (e) => { state.attack = e.target.value; update(0); });
  $("eps").addEventListener("input", (e) => {
    state.eps255 = Number(e.target.value);
    $("eps-value").textContent = fmtEps(state.eps255);
    update();
  });
  $("cam-toggle").addEventListener("change", (e) => { state.cam = e.target.checked; update(0); });
  $("cam-method").addEventListener("change", (e) => { state.camMethod = e.target.value; update(0); });
  $("saliency-toggle").addEventListener("change", (e) => { state.saliency = e.target.checked; update(0); });
  $("transfer").addEventListener("change", (e) => { state.transfer = e.target.value; update(0); });
  $("upload").addEventListener("change", (e) => { if (e.target.files[0]) uploadFile(e.target.files[0]); e.target.value = ""; });
  await selectModel(meta.default);
}

start().catch((e) => showMessage(`the page could not start: ${e.message}`));
