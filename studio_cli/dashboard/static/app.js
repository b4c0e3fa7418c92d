// studio dashboard: one EventSource, a snapshot then patches; every change updates only the
// rows and cards it touches. All text goes in through textContent (never HTML): names,
// summaries and message bodies come from agents.
"use strict";

const STATUSES = ["open", "claimed", "in_progress", "blocked", "done", "failed", "cancelled"];
const STARTED = new Set(["claimed", "in_progress"]);
const S = {
  info: {}, agents: new Map(), tasks: new Map(), leases: new Map(), overlaps: [],
  events: [], notes: [], messages: [], hidden: [], overlapFiles: new Map(),
};
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}
function clock(iso) { return new Date(iso).toLocaleTimeString(); }
function until(iso) {
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  return s <= 0 ? "expired" : `in ${ago(new Date(Date.now() - s * 1000).toISOString())}`;
}

// ------------------------------------------------------------------ stream

let source = null;
function connect() {
  if (source) source.close();
  source = new EventSource("/api/stream");
  source.addEventListener("snapshot", (e) => { load(JSON.parse(e.data)); setStatus("live"); });
  source.addEventListener("patches", (e) => apply(JSON.parse(e.data)));
  source.addEventListener("resync", () => connect());
  source.onerror = () => setStatus("reconnecting…", true);
}
function setStatus(text, down) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + (down ? "down" : "live");
}

function load(snap) {
  S.info = snap;
  S.agents = new Map(snap.agents.map((a) => [a.id, a]));
  S.tasks = new Map(snap.tasks.map((t) => [t.id, t]));
  S.leases = new Map(snap.leases.map((l) => [l.key, l]));
  S.overlaps = snap.overlaps; S.events = snap.events; S.notes = snap.notes;
  S.messages = snap.messages; S.hidden = snap.hidden_inboxes;
  $("where").textContent = `team ${snap.team} · node ${snap.node} · acting as ${snap.me}`;
  $("flow-window").textContent = `last ${Math.round(snap.window_s / 60)} min`;
  computeOverlaps();
  renderAgents(); renderBoard(); renderFlow(); renderLeases(); renderNotes(); renderEvents();
  renderCounts(); route();
  document.body.dataset.ready = "1";
  // Navigation to data on screen, for bench/dashboard_bench.py (first snapshot only).
  if (!performance.getEntriesByName("studio-rendered").length) performance.mark("studio-rendered");
}

function apply(patches) {
  const agents = new Set(), tasks = new Set();
  let flow = false, leases = false, notes = false, events = false, overlaps = false;
  for (const p of patches) {
    switch (p.t) {
      case "agent": setOrDelete(S.agents, p.id, p.v); agents.add(p.id); break;
      case "task": setOrDelete(S.tasks, p.id, p.v); tasks.add(p.id); break;
      case "lease": setOrDelete(S.leases, p.id, p.v); leases = true; break;
      case "overlaps": S.overlaps = p.v; overlaps = true; break;
      case "event": S.events.push(p.v); trim(S.events, 500); events = true; break;
      case "note": S.notes.push(p.v); trim(S.notes, 200); notes = true; break;
      case "msg": upsertMessage(p.v); flow = true; break;
      case "hidden_inboxes": S.hidden = p.v; flow = true; break;
    }
  }
  if (overlaps) { computeOverlaps(); for (const id of S.agents.keys()) agents.add(id); }
  for (const id of tasks) {
    const t = S.tasks.get(id);
    if (t && t.assignee) agents.add(t.assignee);
  }
  if (agents.size) { for (const id of agents) renderAgent(id); renderAgentIds(); }
  if (tasks.size) renderTasks(tasks);
  if (flow) renderFlow();
  if (leases) renderLeases();
  if (notes) renderNotes();
  if (events) { renderEvents(); if (currentAgent()) renderAgentEvents(); }
  if (agents.size || tasks.size) renderCounts();
  if (currentAgent() && agents.has(currentAgent())) renderAgentDetail();
}
function setOrDelete(map, key, value) { if (value) map.set(key, value); else map.delete(key); }
function trim(list, n) { if (list.length > n) list.splice(0, list.length - n); }
function upsertMessage(m) {
  const i = S.messages.findIndex((x) => x.id === m.id);
  if (i >= 0) S.messages[i] = m; else S.messages.push(m);
  trim(S.messages, 1000);
}

// ------------------------------------------------------------------ agents

function computeOverlaps() {
  S.overlapFiles = new Map();
  for (const o of S.overlaps)
    for (const a of o.agents) {
      if (!S.overlapFiles.has(a)) S.overlapFiles.set(a, new Set());
      S.overlapFiles.get(a).add(o.path);
    }
  const box = $("overlaps");
  box.replaceChildren(...S.overlaps.map((o) =>
    el("div", { class: "overlap-item" }, el("strong", { text: o.path }),
      ` changed by ${o.agents.join(" and ")} `, el("small", { text: o.repo }))));
}

function heldTasks(id) {
  const held = [];
  for (const t of S.tasks.values()) if (t.assignee === id && STARTED.has(t.status)) held.push(t.id);
  return held;
}

function nodeBody(node) {
  let body = $(`node-${node}`);
  if (body) return body;
  body = el("tbody", { id: `node-${node}`, "data-node": node },
    el("tr", { class: "node-head" }, el("td", { colspan: 11, text: `node ${node}` })));
  const table = $("agents");
  const after = [...table.tBodies].find((b) => b.dataset.node > node);
  table.insertBefore(body, after || null);
  return body;
}

function renderAgents() {
  for (const b of [...$("agents").tBodies]) b.remove();
  for (const id of [...S.agents.keys()].sort()) renderAgent(id);
  renderAgentIds();
}

function renderAgent(id) {
  const a = S.agents.get(id);
  const old = document.getElementById(`agent-${id}`);
  if (!a) { if (old) old.remove(); return; }
  const overlapping = S.overlapFiles.get(id) || new Set();
  const files = el("td", { class: "files", title: a.changed_files.join("\n") });
  a.changed_files.slice(0, 6).forEach((f, i) => {
    if (i) files.append(", ");
    files.append(el("span", { class: "file" + (overlapping.has(f) ? " overlap" : ""), text: f }));
  });
  if (a.changed_files.length > 6) files.append(` +${a.changed_files.length - 6}`);
  const row = el("tr", {
      id: `agent-${id}`, "data-state": a.state,
      class: `state-${a.state}` + (overlapping.size ? " overlap" : ""),
    },
    el("td", {}, el("a", { href: `#agent/${id}`, text: a.name })),
    el("td", { class: "state" }, a.state.replace("_", " "),
      a.state_detail ? el("span", { class: "detail", text: ` (${a.state_detail})` }) : null),
    el("td", { class: "since", "data-since": a.state_since,
               "data-exact": a.state_since_exact ? "1" : "" }, sinceText(a)),
    el("td", { text: a.kind }), el("td", { text: a.role }),
    el("td", { class: "summary", text: a.summary || a.task || "" }),
    el("td", { text: a.branch }), files,
    el("td", { class: "unread", text: a.unread === null || a.unread === undefined ? "–" : String(a.unread) }),
    el("td", { class: "held", text: heldTasks(id).join(", ") }),
    el("td", {}, a.state === "idle"
      ? el("a", { class: "kick", href: `#agent/${id}`, text: "kick…" })
      : null),
  );
  if (old && old.parentNode.dataset.node === a.node) old.replaceWith(row);
  else { if (old) old.remove(); insertSorted(nodeBody(a.node), row, id); }
}
function insertSorted(body, row, id) {
  const after = [...body.rows].find((r) => r.id && r.id > `agent-${id}`);
  body.insertBefore(row, after || null);
}
function sinceText(a) { return (a.state_since_exact ? "" : "≥ ") + ago(a.state_since); }
function renderAgentIds() {
  $("agent-ids").replaceChildren(...[...S.agents.keys()].sort().map((id) => el("option", { value: id })));
}

// ------------------------------------------------------------------ board

function renderBoard() {
  const board = $("board");
  board.replaceChildren(...STATUSES.map((s) =>
    el("div", { class: "column", id: `col-${s}`, "data-status": s }, el("h3", { text: s.replace("_", " ") }))));
  for (const t of [...S.tasks.values()].sort(byNumber)) $(`col-${t.status}`).append(card(t, false));
}
function byNumber(a, b) { return num(a.id) - num(b.id); }
function num(id) { return parseInt(id.slice(2), 10) || 0; }

function renderTasks(ids) {
  const touched = new Set(ids);
  // A task's dependents show its status in their chips.
  for (const t of S.tasks.values()) if (t.depends_on.some((d) => ids.has(d))) touched.add(t.id);
  for (const id of touched) {
    const t = S.tasks.get(id), old = document.getElementById(`task-${id}`);
    if (!t) { if (old) old.remove(); continue; }
    const fresh = card(t, ids.has(id));
    const column = $(`col-${t.status}`);
    if (old && old.parentNode === column) { old.replaceWith(fresh); continue; }
    if (old) old.remove();
    const after = [...column.children].find((c) => c.dataset.n && +c.dataset.n > num(id));
    column.insertBefore(fresh, after || null);
  }
}

function card(t, changed) {
  const deps = el("div", { class: "deps" });
  for (const d of t.depends_on) {
    const dep = S.tasks.get(d);
    deps.append(el("span", { class: dep && dep.status === "done" ? "done" : "waiting",
      title: dep ? `${d}: ${dep.status} — ${dep.title}` : d, text: `⇠ ${d}` }));
  }
  return el("div", {
      class: "card" + (changed ? " changed" : ""), id: `task-${t.id}`, "data-n": num(t.id),
      "data-status": t.status, title: t.description || t.title,
      onmouseenter: () => relate(t.id, true), onmouseleave: () => relate(t.id, false),
    },
    el("div", {}, el("strong", { text: t.id }), " ", t.title),
    t.assignee ? el("div", { class: "muted assignee", text: `@${t.assignee}` }) : null,
    t.depends_on.length ? deps : null,
    t.priority ? el("small", { text: `priority ${t.priority}` }) : null,
  );
}
function relate(id, on) {
  const t = S.tasks.get(id);
  if (!t) return;
  const related = new Set(t.depends_on);
  for (const o of S.tasks.values()) if (o.depends_on.includes(id)) related.add(o.id);
  for (const r of related) {
    const c = document.getElementById(`task-${r}`);
    if (c) c.classList.toggle("related", on);
  }
}

// ------------------------------------------------------------------ feeds

function renderFlow() {
  const since = Date.now() - S.info.window_s * 1000;
  const recent = S.messages.filter((m) => Date.parse(m.created_at) >= since);
  const pairs = new Map();
  for (const m of recent) {
    const k = `${m.from} → ${m.to}`;
    pairs.set(k, (pairs.get(k) || 0) + 1);
  }
  $("flow-pairs").replaceChildren(...[...pairs].sort((a, b) => b[1] - a[1]).slice(0, 40)
    .map(([k, n]) => el("span", { text: `${k} ×${n}` })));
  $("hidden-inboxes").textContent = S.hidden.length
    ? `Mail into node(s) ${S.hidden.join(", ")} is not readable with this node's credentials.` : "";
  const list = $("messages");
  const seen = new Set([...list.children].map((li) => li.dataset.id));
  list.replaceChildren(...recent.slice(-200).reverse().map((m) => el("li", {
      class: "msg" + (m.readable ? "" : " meta") + (seen.has(m.id) || !seen.size ? "" : " new"),
      "data-id": m.id,
    },
    el("small", { text: clock(m.created_at) + " " }),
    el("strong", { class: "from", text: m.from }), " → ", el("strong", { class: "to", text: m.to }),
    m.subject ? el("span", { class: "subject", text: ` [${m.subject}]` }) : null,
    el("div", { class: "body", text: m.readable ? m.body : "(metadata only: not readable here)" }))));
}

function renderLeases() {
  const rows = [];
  for (const l of [...S.leases.values()].sort((a, b) => a.path.localeCompare(b.path)))
    for (const h of l.holders)
      if (Date.parse(h.expires_at) > Date.now())
        rows.push(el("tr", { class: "lease" }, el("td", { text: l.path }), el("td", { text: h.agent }),
          el("td", { text: h.exclusive ? "exclusive" : "shared" }),
          el("td", { class: "expires", "data-until": h.expires_at, text: until(h.expires_at) }),
          el("td", { text: h.reason })));
  $("leases").tBodies[0].replaceChildren(...rows);
}

function renderNotes() {
  $("notes").replaceChildren(...S.notes.slice(-100).reverse().map((n) => el("li", {},
    el("small", { text: clock(n.created_at) + " " }), el("strong", { text: n.sender }), ": ", n.text)));
}

function eventLine(e) {
  const extra = Object.entries(e.data || {}).filter(([, v]) => v !== null && v !== "" &&
    !(Array.isArray(v) && !v.length)).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`);
  return el("li", {}, el("small", { text: clock(e.created_at) + " " }), el("strong", { text: e.kind }),
    ` ${[e.agent, e.task].filter(Boolean).join(" ")}`, extra.length ? el("small", { text: ` (${extra.join(", ")})` }) : null);
}
function renderEvents() { $("events").replaceChildren(...S.events.slice(-60).reverse().map(eventLine)); }

function renderCounts() {
  const states = {};
  for (const a of S.agents.values()) states[a.state] = (states[a.state] || 0) + 1;
  $("agents-count").textContent = Object.entries(states).map(([s, n]) => `${n} ${s}`).join(" · ");
  const statuses = {};
  for (const t of S.tasks.values()) statuses[t.status] = (statuses[t.status] || 0) + 1;
  $("tasks-count").textContent = STATUSES.filter((s) => statuses[s]).map((s) => `${statuses[s]} ${s}`).join(" · ");
  $("counts").textContent = `${S.agents.size} agents · ${S.tasks.size} tasks`;
}

// ------------------------------------------------------------------ agent page

function currentAgent() {
  const m = location.hash.match(/^#agent\/(.+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}
let agentEvents = [];
function route() {
  const id = currentAgent();
  $("main-view").hidden = !!id;
  $("agent-view").hidden = !id;
  if (!id) return;
  $("peek").textContent = "not read yet"; $("kick-result").textContent = "";
  renderAgentDetail();
  fetch(`/api/agents/${encodeURIComponent(id)}/events`).then((r) => r.json())
    .then((d) => { agentEvents = d.events; renderAgentEvents(); });
}
function renderAgentDetail() {
  const id = currentAgent(), a = S.agents.get(id);
  $("agent-title").textContent = a ? `${a.id} — ${a.state.replace("_", " ")}` : `${id} (unknown)`;
  if (!a) { $("agent-fields").replaceChildren(); return; }
  const fields = [["state", a.state + (a.state_detail ? ` (${a.state_detail})` : "")],
    ["in this state for", sinceText(a)], ["kind", a.kind], ["role", a.role], ["summary", a.summary],
    ["declared task", a.task || ""], ["tasks held", heldTasks(id).join(", ")], ["unread", a.unread ?? "–"],
    ["branch", a.branch], ["repository", a.repo], ["cwd", a.cwd], ["tmux", a.tmux_target],
    ["changed files", a.changed_files.join(", ")]];
  $("agent-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
}
function renderAgentEvents() {
  const id = currentAgent();
  const live = S.events.filter((e) => e.agent === id && !agentEvents.some((x) => x.id === e.id));
  $("agent-events").replaceChildren(...agentEvents.concat(live).slice(-100).reverse().map(eventLine));
}
async function peek() {
  const id = currentAgent();
  $("peek").textContent = "reading…";
  const r = await fetch(`/api/agents/${encodeURIComponent(id)}/peek?lines=60`);
  const d = await r.json();
  $("peek").textContent = r.ok ? `(${d.state})\n${d.text}` : d.error;
  $("peek").classList.toggle("muted", !r.ok);
}

// ------------------------------------------------------------------ actions

async function post(path, body, result) {
  result.textContent = "…"; result.className = "result";
  try {
    const r = await fetch(path, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(body) });
    const d = await r.json();
    result.textContent = r.ok ? d.text : d.error;
    result.className = "result " + (r.ok && d.ok !== false ? "ok" : "error");
    return r.ok && d.ok !== false;
  } catch (err) {
    result.textContent = `the dashboard did not answer: ${err}`; result.className = "result error";
    return false;
  }
}
function formData(form) { return Object.fromEntries(new FormData(form).entries()); }
async function kick(id, text, result) { await post("/api/kick", { agent: id, text }, result); }

$("send-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target, data = formData(f);
  if (await post("/api/send", data, $("send-result"))) f.body.value = "";
});
$("dispatch-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target, data = formData(f);
  data.priority = parseInt(data.priority || "0", 10) || 0;
  if (await post("/api/dispatch", data, $("dispatch-result"))) { f.title.value = ""; f.description.value = ""; }
});
$("kick-form").addEventListener("submit", (e) => {
  e.preventDefault();
  kick(currentAgent(), e.target.text.value, $("kick-result"));
});
$("peek-button").addEventListener("click", peek);
window.addEventListener("hashchange", route);

// Local clock: time in state and lease expiry move on between pushes (no server request).
setInterval(() => {
  for (const td of document.querySelectorAll("td.since"))
    td.textContent = (td.dataset.exact ? "" : "≥ ") + ago(td.dataset.since);
  for (const td of document.querySelectorAll("td.expires")) td.textContent = until(td.dataset.until);
}, 1000);

connect();
