// The live dashboard: one WebSocket (/api/v1/stream), one message per published
// snapshot. The token comes from the URL fragment (#token=...), which browsers never
// send to the server, and is kept in sessionStorage for this tab only.
"use strict";

const state = { token: null, socket: null, retryMs: 1000 };

function readToken() {
  const match = /(?:^|[#&])token=([^&]+)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem("v2g-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", window.location.pathname);
  }
  return sessionStorage.getItem("v2g-token");
}

function setStatus(text, kind) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = "status " + (kind || "");
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${window.location.host}/api/v1/stream`;
  const socket = new WebSocket(url, ["v2g.stream", "bearer." + state.token]);
  state.socket = socket;
  socket.onopen = () => { setStatus("live", "live"); state.retryMs = 1000; };
  socket.onmessage = (message) => render(JSON.parse(message.data));
  socket.onclose = (event) => {
    setStatus("disconnected", "down");
    if (event.code === 1006 && !state.everConnected) {
      document.getElementById("login").hidden = false;
    }
    setTimeout(connect, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 15000);
  };
}

const kw = (w) => (w === null || w === undefined ? "–" : (w / 1000).toFixed(1));
const kwh = (wh) => (wh === null || wh === undefined ? "–" : (wh / 1000).toFixed(1));

// Times are shown in UTC, the time base of the whole API, always with the zone named.
const pad2 = (n) => String(n).padStart(2, "0");
function utcTime(ms, withDate) {
  const d = new Date(ms);
  const time = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  return withDate ? `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${time}` : time;
}
function utcStamp(iso) {
  const d = new Date(iso);
  return `${d.getUTCFullYear()}-${utcTime(d.getTime(), true)} UTC`;
}

// Axis ticks on round values: steps of 1, 2, 2.5 or 5 times a power of ten.
function niceTicks(lo, hi, count = 5) {
  const raw = (hi - lo) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const first = Math.floor(lo / step) * step, last = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (step / power === 2.5 ? 1 : 0));
  return { ticks, lo: first, hi: last, decimals };
}

function render(snapshot) {
  state.everConnected = true;
  refreshStations();
  document.getElementById("clock").textContent =
    `cycle ${snapshot.cycle} · ${utcStamp(snapshot.at)}`;
  renderTiles(snapshot);
  renderFleet(snapshot.fleet || []);
  if (snapshot.plan) renderPlan(snapshot.plan);
  if (snapshot.envelope) renderEnvelope(snapshot.envelope, snapshot.plan);
  renderGrid(snapshot.grid);
  if (snapshot.grid) renderProfile(snapshot.grid.profile);
  renderTimeline(snapshot);
}

function renderTiles(snapshot) {
  const plan = snapshot.plan;
  document.getElementById("tile-vehicles").textContent = (snapshot.fleet || []).length;
  if (!plan) return;
  const power = plan.setpoints.reduce((sum, s) => sum + s.power_w, 0);
  document.getElementById("tile-power").textContent = `${kw(power)} kW`;
  const cap = plan.target_cap_w[0];
  document.getElementById("tile-target").textContent =
    cap === null ? "none" : `${kw(cap)} kW`;
  const grid = document.getElementById("tile-grid");
  const verdict = plan.grid;
  grid.textContent = verdict ? (verdict.ok ? "ok" : `${verdict.violations.length} violations`) : "–";
  grid.className = "value" + (verdict && !verdict.ok ? " bad" : "");
  document.getElementById("tile-plan-ms").textContent = `${plan.plan_ms.toFixed(0)} ms`;
}

// Table cells from [content, class] pairs: text (as textContent: nothing from the API
// is ever parsed as HTML) or a list of elements made here.
function appendCells(tr, cells) {
  for (const [content, cls] of cells) {
    const td = document.createElement("td");
    if (Array.isArray(content)) td.replaceChildren(...content);
    else td.textContent = content;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
}

function renderFleet(rows) {
  const body = document.querySelector("#fleet tbody");
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.evse = row.evse_id;
    const cells = [
      [row.evse_id], [row.ev_id || ""], [row.bus, "num"],
      [row.soc_percent === null ? "–" : row.soc_percent.toFixed(1), "num"],
      [row.departure ? utcTime(new Date(row.departure).getTime(), true) + " UTC" : "–"],
      [kw(row.setpoint_w), "num" + (row.setpoint_w < 0 ? " discharge" : "")],
      [row.binding_limit || ""], [row.v2g_allowed ? "yes" : "no"],
    ];
    appendCells(tr, cells);
    return tr;
  }));
}

// A small line chart on a canvas: series of {values, color, label, step}; labels
// are the x positions' texts; options.lines are dashed limits {value, color, label}.
function chart(id, labels, series, options = {}) {
  const canvas = document.getElementById(id);
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 48, right = 8, top = 22, bottom = 22;
  ctx.clearRect(0, 0, w, h);
  const all = series.flatMap((s) => s.values.filter((v) => v !== null && isFinite(v)));
  if (options.lines) all.push(...options.lines.map((l) => l.value));
  if (!all.length) return;
  let lo = Math.min(...all), hi = Math.max(...all);
  if (options.zero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
  if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
  const axis = niceTicks(lo, hi);
  lo = axis.lo; hi = axis.hi;
  const n = Math.max(labels.length, 2);
  const x = (i) => left + (w - left - right) * i / (n - 1);
  const y = (v) => top + (h - top - bottom) * (hi - v) / (hi - lo);
  ctx.font = "11px system-ui"; ctx.fillStyle = "#667"; ctx.strokeStyle = "#e3e5ea";
  canvas.dataset.ticks = axis.ticks.join(" ");
  for (const v of axis.ticks) {
    ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(w - right, y(v)); ctx.stroke();
    ctx.fillText(v.toFixed(axis.decimals), 2, y(v) + 4);
  }
  const every = Math.max(1, Math.ceil(labels.length / 6));
  for (let i = 0; i < labels.length; i += every) {
    ctx.fillText(labels[i], Math.min(x(i) - 14, w - right - ctx.measureText(labels[i]).width), h - 6);
  }
  let legend = left + 6;
  for (const line of options.lines || []) {
    ctx.strokeStyle = line.color; ctx.setLineDash([5, 4]);
    ctx.beginPath(); ctx.moveTo(left, y(line.value)); ctx.lineTo(w - right, y(line.value)); ctx.stroke();
    ctx.setLineDash([]);
    if (line.label) {
      ctx.fillStyle = line.color; ctx.fillText(line.label, legend, top - 8);
      legend += ctx.measureText(line.label).width + 16;
    }
  }
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.lineWidth = s.width || 2; ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !isFinite(v)) { pen = false; return; }
      if (!pen) { ctx.moveTo(x(i), y(v)); pen = true; }
      else if (s.step) { ctx.lineTo(x(i), y(s.values[i - 1] ?? v)); ctx.lineTo(x(i), y(v)); }
      else ctx.lineTo(x(i), y(v));
    });
    ctx.stroke(); ctx.setLineDash([]); ctx.lineWidth = 1;
    ctx.fillStyle = s.color; ctx.fillText(s.label, legend, top - 8);
    legend += ctx.measureText(s.label).width + 16;
  }
}

// Time labels in UTC: the date on the first one and wherever a new day starts.
function timeLabels(times) {
  return times.map((t, k) =>
    utcTime(t, k === 0 || new Date(t).getUTCDate() !== new Date(times[k - 1]).getUTCDate()));
}

function slotLabels(start, slotS, count, endsS) {
  // Slots follow the clock and DR events cut them: each starts where the last ended.
  const t0 = new Date(start).getTime();
  const offset = (k) => (endsS ? (k === 0 ? 0 : endsS[k - 1]) : k * slotS);
  return timeLabels(Array.from({ length: count }, (_, k) => t0 + offset(k) * 1000));
}

function renderPlan(plan) {
  const labels = slotLabels(plan.created_at, plan.slot_s, plan.fleet_power_w.length, plan.slot_ends_s);
  const series = [
    { values: plan.fleet_power_w.map((v) => v / 1000), color: "#264653", label: "plan", step: true },
    { values: plan.target_cap_w.map((v) => (v === null ? null : v / 1000)), color: "#e76f51",
      label: "DR target cap", step: true, dash: [6, 3] },
  ];
  if (plan.baseline_w) {
    series.push({ values: plan.baseline_w.map((v) => v / 1000), color: "#aab", label: "without DR", step: true });
  }
  chart("chart-plan", labels, series, { zero: true });
}

function renderEnvelope(envelope, plan) {
  const labels = slotLabels(envelope.start, envelope.slot_s, envelope.upper_w.length, envelope.slot_ends_s);
  const series = [
    { values: envelope.upper_w.map((v) => v / 1000), color: "#2a9d8f", label: "max charge", step: true },
    { values: envelope.lower_w.map((v) => v / 1000), color: "#b5651d", label: "max discharge", step: true },
  ];
  if (plan) series.push({ values: plan.fleet_power_w.map((v) => v / 1000), color: "#264653", label: "plan", step: true });
  chart("chart-envelope", labels, series, { zero: true });
}

function renderGrid(grid) {
  if (!grid || !grid.history.length) return;
  const labels = timeLabels(grid.history.map((h) => new Date(h.at).getTime()));
  const limits = grid.profile && {
    vm_pu_min: grid.profile.vm_pu_min, vm_pu_max: grid.profile.vm_pu_max,
    max_line_loading_percent: 100, max_trafo_loading_percent: 100,
  };
  const loadingLines = [{ value: limits ? limits.max_line_loading_percent : 100, color: "#c0392b",
    label: `limit ${limits ? limits.max_line_loading_percent : 100} %` }];
  chart("chart-loading", labels, [
    { values: grid.history.map((h) => h.max_line_loading_percent), color: "#264653", label: "max line" },
    { values: grid.history.map((h) => h.max_trafo_loading_percent), color: "#8e44ad", label: "max transformer" },
  ], { lines: loadingLines });
  const voltageLines = limits ? [
    { value: limits.vm_pu_min, color: "#c0392b", label: `limits ${limits.vm_pu_min} and ${limits.vm_pu_max} pu` },
    { value: limits.vm_pu_max, color: "#c0392b" },
  ] : [];
  chart("chart-voltage", labels, [
    { values: grid.history.map((h) => h.min_vm_pu), color: "#2a9d8f", label: "lowest bus" },
    { values: grid.history.map((h) => h.max_vm_pu), color: "#e9c46a", label: "highest bus" },
  ], { lines: voltageLines });
}

// Bars per network element, with dashed limit lines; the worst element named below.
function bars(id, names, values, limits, worstOf) {
  const canvas = document.getElementById(id);
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 48, right = 8, top = 8, bottom = 22;
  ctx.clearRect(0, 0, w, h);
  const finite = values.filter((v) => v !== null && isFinite(v));
  if (!finite.length) return;
  let lo = Math.min(...finite, ...limits), hi = Math.max(...finite, ...limits);
  if (id === "chart-branches") lo = 0;
  if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
  const axis = niceTicks(lo, hi);
  lo = axis.lo; hi = axis.hi;
  canvas.dataset.ticks = axis.ticks.join(" ");
  const y = (v) => top + (h - top - bottom) * (hi - v) / (hi - lo);
  const step = (w - left - right) / values.length;
  ctx.font = "11px system-ui"; ctx.fillStyle = "#667"; ctx.strokeStyle = "#e3e5ea";
  for (const v of axis.ticks) {
    ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(w - right, y(v)); ctx.stroke();
    ctx.fillText(v.toFixed(axis.decimals), 2, y(v) + 4);
  }
  const base = id === "chart-branches" ? 0 : lo;
  values.forEach((v, i) => {
    if (v === null || !isFinite(v)) return;
    const bad = limits.length === 2 ? v < limits[0] || v > limits[1] : v > limits[0];
    ctx.fillStyle = bad ? "#c0392b" : "#2a9d8f";
    ctx.fillRect(left + i * step + 1, y(v), Math.max(1, step - 2), y(base) - y(v));
  });
  ctx.strokeStyle = "#c0392b"; ctx.setLineDash([5, 4]);
  for (const limit of limits) {
    ctx.beginPath(); ctx.moveTo(left, y(limit)); ctx.lineTo(w - right, y(limit)); ctx.stroke();
  }
  ctx.setLineDash([]);
  const worst = worstOf(values);
  if (worst >= 0) {
    ctx.fillStyle = "#445";
    ctx.fillText(`${names[worst]}: ${values[worst]}`, left, h - 6);
  }
}

function renderProfile(profile) {
  if (!profile) return;
  const vm = profile.buses.map((b) => b.vm_pu);
  bars("chart-buses", profile.buses.map((b) => b.bus), vm, [profile.vm_pu_min, profile.vm_pu_max],
    (values) => values.reduce((k, v, i) => (v !== null && (k < 0 || v < values[k]) ? i : k), -1));
  const loading = profile.branches.map((b) => b.loading_percent);
  bars("chart-branches", profile.branches.map((b) => b.element), loading, [100],
    (values) => values.reduce((k, v, i) => (v !== null && (k < 0 || v > values[k]) ? i : k), -1));
}

function renderTimeline(snapshot) {
  const box = document.getElementById("timeline");
  const now = new Date(snapshot.at).getTime();
  const from = now - 6 * 3600e3, to = now + 18 * 3600e3;
  const pos = (t) => `${Math.min(100, Math.max(0, 100 * (t - from) / (to - from)))}%`;
  const events = snapshot.dr_events || [];
  const items = events.map((e) => {
    const el = document.createElement("div");
    const s = new Date(e.start).getTime(), f = new Date(e.end).getTime();
    el.className = "event" + (s <= now && now < f ? " active" : "");
    el.style.left = pos(s);
    el.style.width = `calc(${pos(f)} - ${pos(s)})`;
    el.textContent = e.id;
    el.title = `${e.id} rev ${e.modification_number}: ${e.kind} ${kw(e.value)} kW, ` +
      `${utcStamp(e.start)} – ${utcStamp(e.end)}`;
    return el;
  });
  const mark = document.createElement("div");
  mark.className = "now"; mark.style.left = pos(now);
  const nowLabel = document.createElement("span");
  nowLabel.className = "now-label"; nowLabel.style.left = pos(now); nowLabel.textContent = "now";
  const axis = [0, 6, 12, 18, 24].map((hours) => {
    const el = document.createElement("span");
    el.className = "axis" + (hours === 24 ? " last" : ""); el.style.left = `${100 * hours / 24}%`;
    el.textContent = utcTime(from + hours * 3600e3, true) + (hours === 24 ? " UTC" : "");
    return el;
  });
  box.replaceChildren(...items, mark, nowLabel, ...axis);
  renderDelivered(events);
}

// Per DR event: what it asked and what the fleet delivered (M&V against the plan
// without DR), and energy moved beyond the ask (for prices, not for the event).
function renderDelivered(events) {
  const body = document.querySelector("#dr-delivered tbody");
  body.replaceChildren(...events.map((e) => {
    const m = e.measurement;
    const tr = document.createElement("tr");
    tr.dataset.event = e.id;
    const percent = m && m.asked_wh > 0 ? `${Math.min(100, 100 * m.credited_wh / m.asked_wh).toFixed(0)} %` : "–";
    const cells = [
      [`${e.id} rev ${e.modification_number}`],
      [`${utcTime(new Date(e.start).getTime(), true)} – ${utcTime(new Date(e.end).getTime(), true)} UTC`],
      [`${e.kind} ${kw(e.value)} kW`],
      [m ? kwh(m.asked_wh) : "not yet active", "num"],
      [m ? kwh(m.credited_wh) : "–", "num"],
      [percent, "num"],
      [m ? kwh(m.beyond_ask_wh) : "–", "num"],
      // What the meters saw over the event's window, and what is missing of the ask.
      [e.measured ? `${kwh(e.measured.delivered_metered_wh)} (short ${kwh(e.measured.shortfall_wh)})` : "–", "num"],
    ];
    appendCells(tr, cells);
    return tr;
  }));
}

// Usage is history from the store, not part of the live stream: fetched at start and
// every five minutes.
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
async function refreshUsage() {
  try {
    const response = await fetch("/api/v1/usage", {
      headers: { Authorization: `Bearer ${state.token}` }, cache: "no-store",
    });
    if (response.ok) renderUsage(await response.json());
  } finally {
    setTimeout(refreshUsage, 300000);
  }
}

function renderUsage(usage) {
  const hours = usage.hours_of_week;
  chart("chart-usage-hours", hours.map((h) => `${DAYS[h.weekday]} ${pad2(h.hour)}h`), [
    { values: hours.map((h) => h.charged_wh / 1000), color: "#2a9d8f", label: "charged", step: true },
    { values: hours.map((h) => -h.discharged_wh / 1000), color: "#e76f51", label: "discharged", step: true },
  ], { zero: true });
  const body = document.querySelector("#usage tbody");
  body.replaceChildren(...usage.evses.concat([usage.site]).map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.evse = e.evse_id;
    const cells = [[e.evse_id], [String(e.sessions), "num"],
      [(100 * e.utilization).toFixed(1), "num"], [(e.idle_s / 3600).toFixed(1), "num"],
      [kwh(e.charged_wh), "num"], [kwh(e.discharged_wh), "num"]];
    appendCells(tr, cells);
    return tr;
  }));
}

// OCPP stations are read from the store (/api/v1/stations): at each snapshot and every
// 10 s, at most one request at a time, so a station going offline shows within seconds.
async function refreshStations() {
  if (state.stationsLoading) return;
  state.stationsLoading = true;
  try {
    const response = await fetch("/api/v1/stations", {
      headers: { Authorization: "Bearer " + state.token },
    });
    if (response.ok) renderStations((await response.json()).stations);
  } catch (error) {
    // The stream's status already says when the service is unreachable.
  } finally {
    state.stationsLoading = false;
  }
}

function renderStations(stations) {
  document.getElementById("stations-none").hidden = stations.length > 0;
  const body = document.querySelector("#stations tbody");
  body.replaceChildren(...stations.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.station = s.station_id;
    const connectors = s.evses.flatMap((evse) => evse.connectors.map((c) => {
      const span = document.createElement("span");
      span.className = "connector " + c.status.toLowerCase();
      span.dataset.evse = evse.evse_id || String(evse.ocpp_evse);
      span.textContent = `${evse.evse_id || "evse " + evse.ocpp_evse} #${c.connector_id} ${c.status}`;
      return span;
    }));
    const since = s.online ? s.connected_at : s.disconnected_at;
    const cells = [
      [s.station_id], [s.online ? "online" : "offline", s.online ? "online" : "offline"],
      [s.version || "–"], [[s.vendor_name, s.model].filter(Boolean).join(" ") || "–"],
      [connectors], [since ? utcStamp(since) : "–"],
    ];
    appendCells(tr, cells);
    return tr;
  }));
}

// The utility links (OpenADR) from /api/v1/health, every 5 s: connected or not, the
// last poll, and the last error in the VTN's own words (as a tooltip and below).
async function renderLinks() {
  try {
    const response = await fetch("/api/v1/health");
    const health = await response.json();
    const links = Object.entries(health.channels || {});
    const tile = document.getElementById("tile-openadr");
    tile.parentElement.hidden = links.length === 0;
    if (links.length === 0) return;
    const bad = links.filter(([, link]) => !link.connected);
    tile.textContent = bad.length ? "not connected" : "connected";
    tile.className = "value" + (bad.length ? " bad" : "");
    const polled = links.map(([name, link]) =>
      `${name}: polled ${link.last_poll_at ? utcStamp(link.last_poll_at) : "never"}` +
      (link.last_error ? ` · ${link.last_error}` : ""));
    const detail = document.getElementById("tile-openadr-detail");
    detail.textContent = polled.join("; ");
    tile.title = polled.join("\n");
  } catch (error) {
    // The stream's status already says when the service is away.
  }
}
setInterval(renderLinks, 5000);
renderLinks();

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("v2g-token", document.getElementById("token-input").value.trim());
  window.location.reload();
});

state.token = readToken();
if (state.token) { connect(); refreshUsage(); setInterval(refreshStations, 10000); }
else { document.getElementById("login").hidden = false; setStatus("no token", "down"); }
