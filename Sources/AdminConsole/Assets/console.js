// HotDesk web console: signs in, then shows and changes everything through /api/v1 (the same
// API as the CLI and scripts), opened by the session cookie; every change sends the session's
// CSRF token. Live: /api/v1/events says when something changed, and the page reads its view again.
// No framework and nothing fetched from elsewhere. Text from the directory or from phones is only
// ever set as textContent, never as markup.
"use strict";

const state = { session: null, events: null, timer: null, auditBefore: [], sessionsAfter: [], devicesAfter: [], site: "", zones: {} };
const ROLES = ["auditor", "helpdesk", "admin", "partner"];
/// Where this console is: "" at the root, an organisation's "/o/NAME" (the server says so on the page).
const BASE = document.documentElement.dataset.base || "";
const $ = (id) => document.getElementById(id);

function may(role) { return state.session && ROLES.indexOf(state.session.role) >= ROLES.indexOf(role); }

/// Whether the account is of every site (an account limited to some sees and acts on those only,
/// and the accounts and keys are not for it).
function everySite() { return state.session && !state.session.sites; }

/// A row that opens a phone in the Devices view (a click on a button or field in it does not).
function opensDevice(mac) {
  return (e) => {
    if (e.target.closest("button, input, select, a, form")) return;
    state.device = mac; state.devicesAfter = [];
    location.hash = "#devices";
  };
}

/// A table in a box that scrolls sideways on a narrow screen (the page itself never does).
function scroller(node) { return node.tagName === "TABLE" ? el("div", { class: "scroll" }, node) : node; }

/// An element with attributes and children (strings become text nodes).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) { node.addEventListener(k.slice(2), v); node.dataset.live = ""; }
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/// Puts `nodes` in `parent` changing only what changed, so a live update never takes away what
/// the person is typing, or where: a node equal to the one shown is kept (with its focus and the
/// text typed into it); one that answers events (`data-live`: its handlers hold the data it was
/// made for) is kept only while the person is using it or it holds a button asking "sure?"
/// (`danger`), else replaced; a container of the same shape (tag and attributes, a row's key
/// among them) is patched inside; anything else replaced.
function patch(parent, nodes) {
  const old = [...parent.childNodes];
  if (old.length !== nodes.length) { parent.replaceChildren(...nodes); return; }
  nodes.forEach((next, i) => {
    const shown = old[i];
    if (shown.nodeType !== 1 || next.nodeType !== 1) { if (!shown.isEqualNode(next)) parent.replaceChild(next, shown); return; }
    const inUse = document.activeElement !== document.body && shown.contains(document.activeElement);
    // A button asking "sure?" stays, and what holds it: a render that began before the first click
    // would take the question away.
    const asking = state.armed && shown.contains(state.armed);
    if ("live" in shown.dataset) { if (!asking && !(inUse && shown.isEqualNode(next))) parent.replaceChild(next, shown); return; }
    if (shown.isEqualNode(next) && !shown.querySelector("[data-live]")) return;
    const sameShape = shown.nodeName === next.nodeName && !("live" in next.dataset) && shown.attributes.length === next.attributes.length &&
      [...next.attributes].every((a) => shown.getAttribute(a.name) === a.value);
    if (sameShape) patch(shown, [...next.childNodes]); else parent.replaceChild(next, shown);
  });
}

/// A time as people read it, in the zone of its site (else the directory's) and saying which:
/// 3 Dec 2026, 19:30:12 CET.
function when(iso, site) {
  if (!iso) return "—";
  const timeZone = (site && state.zones[site]) || state.zone || undefined;
  const shape = { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short" };
  try { return new Date(iso).toLocaleString(undefined, { ...shape, timeZone }); } catch (e) { return new Date(iso).toLocaleString(undefined, shape); }
}

/// The zones times are shown in (GET /sites), read again at most once a minute.
async function readZones() {
  if (state.zonesRead && Date.now() - state.zonesRead < 60000) return;
  const list = await api("GET", "/sites");
  state.zone = list.time_zone;
  state.zones = Object.fromEntries(list.sites.filter((s) => s.time_zone).map((s) => [s.name, s.time_zone]));
  state.zonesRead = Date.now();
}

/// A stored value as words (never_fetched: never fetched).
function human(value) { return String(value).replace(/_/g, " "); }

/// A change that cannot be taken back asks once more, in place: the first click arms the button
/// (its text says what the second click does), the second acts; it disarms by itself after 8 s.
/// Live updates wait while a button is armed, so the question does not vanish under the pointer.
function danger(label, question, run, kind) {
  const button = el("button", { class: kind || "danger", type: "button", "data-live": "" }, label);
  let timer = null;
  button.addEventListener("click", () => {
    if (button.dataset.armed) {
      clearTimeout(timer); delete button.dataset.armed; state.armed = null;
      run();
      return;
    }
    button.dataset.armed = "1"; button.textContent = question; state.armed = button;
    timer = setTimeout(() => { delete button.dataset.armed; button.textContent = label; state.armed = null; render(); }, 8000);
  });
  return button;
}

function notice(text, bad) {
  const n = $("notice");
  n.textContent = text || "";
  n.className = bad ? "error" : "";
}

class APIError extends Error {
  constructor(status, code, message, problems) { super(message); this.status = status; this.code = code; this.problems = problems || []; }
}

/// `body` is sent as JSON, unless `contentType` says what it is (a file's text).
async function api(method, path, body, contentType) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = state.session ? state.session.csrf_token : "";
  if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
  const sent = body === undefined ? undefined : contentType ? body : JSON.stringify(body);
  const r = await fetch(BASE + "/api/v1" + path, { method, headers, body: sent, credentials: "same-origin" });
  if (r.status === 204) return {};
  let json = {};
  try { json = await r.json(); } catch (e) { json = {}; }
  if (r.status === 401) { signedOut(); throw new APIError(401, "signed_out", "Signed out: sign in again."); }
  if (!r.ok) {
    const err = json.error || {};
    throw new APIError(r.status, err.code || String(r.status), err.message || r.statusText, err.problems);
  }
  return json;
}

/// A CSV of extensions or devices chosen in the Extensions page: checked (a dry run) or imported
/// (and the phones whose config changed pushed); the problems, each on its line, shown under it.
async function importCSV(dryRun) {
  const file = $("csv-file") && $("csv-file").files[0];
  if (!file) { notice("Choose a CSV file of extensions or devices first", true); return; }
  const query = "?file=" + encodeURIComponent(file.name) + (dryRun ? "&dry_run=true" : "&push=true");
  try {
    const r = await api("POST", "/directory" + query, await file.text(), "text/csv");
    state.importProblems = [];
    notice(file.name + (dryRun ? ": would create " : ": created ") + r.created + ", " + (dryRun ? "update " : "updated ") + r.updated + ", " + r.unchanged + " unchanged"
      + (r.pushed ? "; pushing " + r.pushed + " phone(s)" : "") + (dryRun ? " (nothing written)" : ""));
  } catch (e) {
    state.importProblems = e.problems;
    notice(e.problems.length ? file.name + ": " + e.problems.length + " problem(s) below, nothing imported" : e.message, true);
  }
  await render();
}

/// Runs a change, says how it went, and reads the view again.
async function act(label, method, path, body) {
  try {
    const answer = await api(method, path, body);
    if (answer.waiting_for_call) { notice(label + ": the phone is on a call; it is logged out when the call ends"); await render(); return answer; }
    notice(label + ": done" + (answer.job ? " (push job " + answer.job.id + ", " + answer.job.state + ")" : answer.id ? " (push job " + answer.id + ")" : ""));
    await render();
    return answer;
  } catch (e) {
    notice(label + ": " + e.message, true);
    return null;
  }
}

// MARK: sign-in

function signedOut() {
  state.session = null; state.zonesRead = 0;
  if (state.events) { state.events.close(); state.events = null; }
  $("nav").hidden = true; $("who").hidden = true; $("view").hidden = true;
  $("sign-in").hidden = false;
}

function signedIn(session) {
  state.session = session;
  $("sign-in").hidden = true;
  $("nav").hidden = false; $("who").hidden = false; $("view").hidden = false;
  $("who-name").textContent = session.name;
  $("who-role").textContent = session.role;
  $("who-sites").textContent = session.sites ? session.sites.join(", ") : "";
  $("who-sites").hidden = !session.sites;
  for (const a of document.querySelectorAll("nav a[data-role]")) a.hidden = !may(a.dataset.role) || ("everySite" in a.dataset && !everySite()) || ("root" in a.dataset && BASE !== "");
  listen();
  if (!location.hash) location.hash = "#sessions"; else render();
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  $("sign-in-error").textContent = "";
  const r = await fetch(BASE + "/admin/sign-in", {
    method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin",
    body: JSON.stringify({ name: form.name.value, password: form.password.value }),
  });
  const json = await r.json().catch(() => ({}));
  form.password.value = "";
  if (r.ok) { signedIn(json); return; }
  $("sign-in-error").textContent = (json.error && json.error.message) || ("sign-in failed (" + r.status + ")");
}

async function signOut() {
  await fetch(BASE + "/admin/sign-out", { method: "POST", headers: { "X-CSRF-Token": state.session ? state.session.csrf_token : "" }, credentials: "same-origin" });
  signedOut();
}

/// Live updates: the server says "change", the view is read again (at most every 300 ms).
function listen() {
  if (state.events) state.events.close();
  const source = new EventSource(BASE + "/api/v1/events");
  source.addEventListener("open", () => $("live").classList.add("on"));
  source.addEventListener("error", () => $("live").classList.remove("on"));
  source.addEventListener("change", () => {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => { if (!busy()) render(); }, 300);
  });
  state.events = source;
}

/// Whether the person is answering a "sure?" (the row it is in could be replaced). Typing is no
/// reason to wait: `patch` keeps the field being typed into as it is.
function busy() {
  return Boolean(state.armed && document.contains(state.armed));
}

// MARK: views

function table(headers, rows, empty) {
  if (!rows.length) return el("p", { class: "empty" }, empty);
  return scroller(el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
}

function stateCell(text) { return el("td", { class: "state-" + text }, human(text)); }

function pushCell(job) {
  if (!job) return el("td", {}, "—");
  return el("td", { class: "state-" + job.state, title: job.last_error || "" }, job.action + " " + job.state);
}

function toolbar(title, ...controls) {
  const bar = $("toolbar");
  patch(bar, [el("h2", {}, title), ...controls.filter((c) => c)]);
}

function field(label, input) { return el("label", {}, label, input); }

/// The site switcher of a list (none while the directory has no sites): one choice for every view.
function siteField(sites, reset) {
  if (!sites.length) return null;
  return field("Site", select("site", [["", "all"], ...sites.map((s) => [s, s])], state.site, (e) => { state.site = e.target.value; reset(); render(); }));
}

function select(name, options, value, onchange) {
  return el("select", { name, onchange }, options.map(([v, t]) => el("option", { value: v, selected: v === value }, t)));
}

const views = {
  async sessions() {
    const after = state.sessionsAfter[state.sessionsAfter.length - 1];
    const sites = (await api("GET", "/sites")).sites.map((s) => s.name);
    if (!sites.includes(state.site)) state.site = "";
    const query = new URLSearchParams({ limit: "200" });
    if (state.site) query.set("site", state.site);
    if (after) query.set("after", after);
    const page = await api("GET", "/sessions?" + query);
    toolbar("Sessions", siteField(sites, () => { state.sessionsAfter = []; }), el("span", {}, page.sessions.length + (page.next ? "+" : "") + " logged in"));
    const start = page.sessions.length || after || state.site ? null : await firstRun();
    if (start) return [start];
    const rows = page.sessions.map((s) => el("tr", { class: "clickable", "data-mac": s.mac, title: "Open this phone", onclick: opensDevice(s.mac) },
      el("td", {}, s.extension), el("td", {}, s.name), sites.length ? el("td", {}, s.site || "—") : null, el("td", { class: "mono" }, s.mac), el("td", {}, s.model),
      el("td", {}, s.network === "ext" ? "Extl" : "Int"), el("td", {}, when(s.since, s.site)), el("td", { class: "mono" }, s.address || "—"),
      el("td", {}, s.on_call_since ? "On a call since " + when(s.on_call_since, s.site) + (s.logout_waiting ? " (logout waiting)" : "") : "—"),
      pushCell(s.last_push),
      el("td", { class: "actions" }, !may("helpdesk") ? null : !s.on_call_since || s.logout_waiting
        ? danger(s.on_call_since ? "Log out now" : "Log out", s.on_call_since ? "Yes, cut the call and log out " + s.extension : "Yes, log out " + s.extension, () => act("Log out " + s.extension, "DELETE", "/sessions/" + s.mac + (s.on_call_since ? "?force=true" : "")))
        : el("span", {}, danger("Log out after the call", "Yes, log out " + s.extension + " when the call ends", () => act("Log out " + s.extension + " after the call", "DELETE", "/sessions/" + s.mac), "secondary"), " ",
            danger("Log out now", "Yes, cut the call and log out " + s.extension, () => act("Log out " + s.extension, "DELETE", "/sessions/" + s.mac + "?force=true"))))));
    return [table(["Extension", "Name", ...(sites.length ? ["Site"] : []), "Device", "Model", "Network", "Since", "Address", "Call", "Last push", ""], rows,
      state.site ? "Nobody is logged in at " + state.site + "." : "Nobody is logged in."),
      pager(page.next, state.sessionsAfter, page.sessions.length ? page.sessions[page.sessions.length - 1].mac : null)];
  },

  async devices() {
    // Filtered and paged by the server: a site may have 100,000 phones.
    const f = state.deviceFilter || (state.deviceFilter = { brand: "", workspace: "", state: "", text: "" });
    const query = new URLSearchParams({ limit: "200" });
    const sites = (await api("GET", "/sites")).sites.map((s) => s.name);
    if (!sites.includes(state.site)) state.site = "";
    for (const key of ["brand", "workspace", "state"]) if (f[key]) query.set(key, f[key]);
    if (state.site) query.set("site", state.site);
    const after = state.devicesAfter[state.devicesAfter.length - 1];
    if (after) query.set("after", after);
    const [list, locks, spaceList] = await Promise.all([api("GET", "/devices?" + query), api("GET", "/locks"), api("GET", "/workspaces")]);
    const brands = [...new Set(["cisco", "fanvil", "grandstream", "mitel", "polycom", "sangoma", "snom", "yealink", ...list.devices.map((d) => d.brand)])].sort();
    const spaces = spaceList.workspaces.map((w) => w.name);
    const refilter = (key) => (e) => { f[key] = e.target.value; state.devicesAfter = []; render(); };
    toolbar("Devices", siteField(sites, () => { state.devicesAfter = []; }),
      field("Family", select("brand", [["", "all"], ...brands.map((b) => [b, b])], f.brand, refilter("brand"))),
      field("Workspace", select("workspace", [["", "all"], ...spaces.map((w) => [w, w])], f.workspace, refilter("workspace"))),
      field("State", select("state", [["", "all"], ["logged_in", "logged in"], ["idle", "idle"], ["changed", "config changed"], ["current", "config current"], ["never_fetched", "never fetched"]], f.state, refilter("state"))),
      field("Search this page", el("input", { name: "text", value: f.text, placeholder: "MAC, model, extension", onchange: (e) => { f.text = e.target.value; render(); } })),
      editButton("devices", null));
    const shown = list.devices.filter((d) =>
      !f.text || [d.mac, d.model, d.address, d.logged_in && d.logged_in.extension].some((v) => v && String(v).toLowerCase().includes(f.text.toLowerCase())));
    const rows = shown.map((d) => el("tr", { class: "clickable" + (state.device === d.mac ? " selected" : ""), "data-mac": d.mac, onclick: () => { state.device = d.mac; render(); } },
      el("td", { class: "mono" }, d.mac), el("td", {}, d.brand), el("td", {}, d.model), sites.length ? el("td", {}, d.site || "—") : null, el("td", {}, d.workspace || "—"),
      el("td", {}, d.logged_in ? d.logged_in.extension + " " + d.logged_in.name : "idle"), el("td", { class: "mono" }, d.address || "—"),
      el("td", {}, when(d.last_fetch, d.site)), stateCell(d.config), pushCell(d.last_push)));
    const out = [table(["MAC", "Family", "Model", ...(sites.length ? ["Site"] : []), "Workspace", "Logged in", "Address", "Last fetch", "Config", "Last push"], rows,
      f.brand || f.workspace || f.state || f.text || list.next ? "No device on this page matches." : "No devices yet (hotdesk import, or phones enrol as they ask).")];
    // The phone opened (here, or from a session or a job): read alone when not on this page.
    let d = list.devices.find((x) => x.mac === state.device);
    if (!d && state.device) d = await api("GET", "/devices/" + state.device).catch(() => null);
    if (d) out.unshift(devicePanel(d, locks.locks.filter((l) => l.kind === "device" && l.key === d.mac)));
    const cursor = list.next ? new URLSearchParams(list.next.split("?")[1]).get("after") : null;
    out.push(pager(list.next, state.devicesAfter, cursor));
    return out;
  },

  async extensions() {
    const [list, locks] = await Promise.all([api("GET", "/extensions"), api("GET", "/locks")]);
    toolbar("Extensions & locks", el("span", {}, list.extensions.length + " extensions, " + locks.locks.length + " locks"),
      el("a", { href: BASE + "/api/v1/directory?format=csv&section=extensions", download: "hotdesk-extensions.csv", id: "extensions-csv" }, "Export extensions CSV"),
      el("a", { href: BASE + "/api/v1/directory?format=csv&section=devices", download: "hotdesk-devices.csv", id: "devices-csv" }, "Export devices CSV"),
      may("admin") ? field("CSV", el("input", { type: "file", id: "csv-file", accept: ".csv,text/csv" })) : null,
      may("admin") ? el("button", { id: "csv-check", onclick: () => importCSV(true) }, "Check CSV") : null,
      may("admin") ? el("button", { id: "csv-import", onclick: () => importCSV(false) }, "Import CSV") : null,
      editButton("extensions", null));
    const problems = (state.importProblems || []).length
      ? [el("ul", { id: "import-problems", class: "error" }, ...state.importProblems.map((p) => el("li", {}, p)))] : [];
    const lockRows = locks.locks.map((l) => el("tr", { "data-lock": l.kind + ":" + l.key },
      el("td", {}, l.kind), el("td", { class: "mono" }, l.key), el("td", {}, String(l.failures)), el("td", {}, when(l.until)),
      el("td", { class: "actions" }, may("helpdesk") ? el("button", { onclick: () => act("Clear lock of " + l.kind + " " + l.key, "DELETE", "/locks/" + l.kind + "/" + encodeURIComponent(l.key)) }, "Clear lock") : null)));
    const extRows = list.extensions.map((e) => el("tr", { "data-extension": e.number },
      el("td", {}, e.number), el("td", {}, e.name), el("td", {}, e.cos || "—"), el("td", { class: "mono" }, e.logged_in_on.join(", ") || "—"),
      el("td", { class: e.locked_until ? "error" : "" }, e.locked_until ? "until " + when(e.locked_until) : "—"),
      el("td", {}, e.pin_chosen ? "chosen on a phone" : e.voicemail ? "voicemail PIN" : "user password"),
      el("td", { class: "actions" }, editButton("extensions", e.number), e.pin_chosen && may("helpdesk")
        ? el("button", { onclick: () => act("Forget the PIN " + e.number + " chose", "DELETE", "/extensions/" + e.number + "/pin") }, "Forget PIN") : null)));
    return [...problems, el("h3", { class: "section" }, "Locks"), table(["Kind", "Key", "Failures", "Until", ""], lockRows, "Nothing is locked."),
      el("h3", { class: "section" }, "Extensions"), table(["Number", "Name", "Class of service", "Logged in on", "Locked", "Logs in with", ""], extRows, "No extensions (hotdesk import).")];
  },

  async jobs() {
    const f = state.jobState || "";
    const page = await api("GET", "/push-jobs?limit=200" + (f ? "&state=" + f : ""));
    toolbar("Push jobs", field("State", select("state", [["", "all"], ["queued", "queued"], ["sent", "sent"], ["applied", "applied"], ["failed", "failed"], ["superseded", "superseded"]], f,
      (e) => { state.jobState = e.target.value; render(); })));
    const rows = page.jobs.map((j) => el("tr", { class: "clickable", "data-job": String(j.id), title: "Open this phone", onclick: opensDevice(j.mac) },
      el("td", {}, String(j.id)), el("td", { class: "mono" }, j.mac), el("td", {}, human(j.action)), el("td", {}, human(j.reason)), stateCell(j.state),
      el("td", {}, String(j.attempts)), el("td", {}, j.actor), el("td", {}, when(j.created_at)), el("td", {}, when(j.applied_at || j.updated_at)), el("td", {}, j.last_error || "")));
    return [table(["Job", "Device", "Action", "Reason", "State", "Attempts", "By", "Queued", "Last change", "Error"], rows, "No push jobs.")];
  },

  async audit() {
    const f = state.auditFilter || (state.auditFilter = { actor: "", action: "", mac: "", extension: "", since: "", until: "" });
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) query.set(k, k === "since" || k === "until" ? new Date(v).toISOString() : v);
    query.set("limit", "100");
    const before = state.auditBefore[state.auditBefore.length - 1];
    if (before) query.set("before_id", before);
    let page;
    try { page = await api("GET", "/audit?" + query); } catch (e) { if (e.status === 400) { notice(e.message, true); page = { entries: [] }; } else throw e; }
    const csv = new URLSearchParams(query); csv.delete("before_id"); csv.set("format", "csv"); csv.set("limit", "10000");
    const refilter = (key) => (e) => { f[key] = e.target.value; state.auditBefore = []; render(); };
    const actions = ["login", "login_failed", "logout", "logout_waiting", "lockout", "push", "unlock", "sign_in", "sign_out", "api_refused", "device_claimed", "device_released",
      "directory_import", "directory_delete", "sip_password_reset", "pin_changed", "api_key_created", "api_key_revoked", "admin_account_changed", "enrol", "config_refused", "push_auth_refused", "claim_pending", "claim_approved"];
    toolbar("Audit",
      field("Actor", el("input", { name: "actor", value: f.actor, onchange: refilter("actor") })),
      field("Action", select("action", [["", "all"], ...actions.map((a) => [a, human(a)])], f.action, refilter("action"))),
      field("Device", el("input", { name: "mac", value: f.mac, placeholder: "MAC", onchange: refilter("mac") })),
      field("Extension", el("input", { name: "extension", value: f.extension, onchange: refilter("extension") })),
      field("Since", el("input", { name: "since", type: "datetime-local", value: f.since, onchange: refilter("since") })),
      field("Until", el("input", { name: "until", type: "datetime-local", value: f.until, onchange: refilter("until") })),
      el("a", { href: BASE + "/api/v1/audit?" + csv, download: "hotdesk-audit.csv", id: "audit-csv" }, "Export CSV"));
    const rows = page.entries.map((a) => el("tr", {},
      el("td", {}, when(a.at)), el("td", {}, a.actor), el("td", {}, human(a.action)), el("td", { class: "mono" }, a.mac || ""), el("td", {}, a.extension || ""),
      el("td", { class: "mono" }, a.source || ""), el("td", { class: a.outcome === "success" ? "ok" : "error" }, a.outcome), el("td", {}, a.detail)));
    return [table(["Time", "Actor", "Action", "Device", "Extension", "Source", "Outcome", "Detail"], rows, "No entries match."),
      pager(page.next, state.auditBefore, page.entries.length ? page.entries[page.entries.length - 1].id : null)];
  },

  async cos() {
    const list = await api("GET", "/cos");
    toolbar("Classes of service", el("span", {}, "Emergency numbers (always allowed): " + (list.emergency_numbers.join(", ") || "none")));
    const rows = list.classes_of_service.map((c) => el("tr", {},
      el("td", {}, c.name), el("td", {}, c.default), el("td", {}, c.includes.map((i) => i.cos + (i.schedule ? " (" + i.schedule + ")" : "")).join(", ") || "—"),
      el("td", {}, el("ul", {}, c.rules.map((r) => el("li", {}, r.action + " " + (r.pattern || "class " + r.class) + (r.schedule ? " during " + r.schedule : "")))))));
    return [table(["Name", "Default", "Includes", "Rules (first match decides)"], rows, "No classes of service: calls are not restricted.")];
  },

  async workspaces() {
    const list = await api("GET", "/workspaces");
    toolbar("Workspaces", editButton("workspaces", null));
    const rows = list.workspaces.map((w) => el("tr", { "data-workspace": w.name },
      el("td", {}, w.name), el("td", {}, w.line_number || "—"), el("td", {}, human(w.licence)), el("td", {}, w.room_type ? human(w.room_type) : "—"), el("td", {}, w.capacity || "—"),
      el("td", {}, w.hot_desking ? "yes" : "no"), el("td", {}, w.devices + " / " + w.max_devices),
      el("td", { class: "actions" }, editButton("workspaces", w.name))));
    return [table(["Name", "Number", "Licence", "Room", "Seats", "Hot desking", "Devices", ""], rows, "No workspaces.")];
  },

  async accounts() {
    const [accounts, keys, siteList] = await Promise.all([api("GET", "/accounts"), api("GET", "/apikeys"), api("GET", "/sites")]);
    const sites = siteList.sites.map((s) => s.name);
    const scope = (x) => x.sites ? x.sites.join(", ") : "every site";
    toolbar("Accounts & keys");
    const mine = (name) => state.session && name === state.session.name;
    const accountRows = accounts.accounts.map((a) => el("tr", { "data-account": a.name },
      el("td", {}, a.name), el("td", {}, a.role), sites.length ? el("td", {}, scope(a)) : null, el("td", {}, when(a.created_at)), el("td", {}, when(a.last_sign_in_at)),
      el("td", { class: "actions" }, mine(a.name) ? "you" : danger("Remove", "Yes, remove " + a.name, () => act("Remove account " + a.name, "DELETE", "/accounts/" + encodeURIComponent(a.name))))));
    const keyRows = keys.keys.map((k) => el("tr", { "data-key-name": k.name },
      el("td", {}, k.name), el("td", {}, k.kind), el("td", {}, k.role || "—"), sites.length ? el("td", {}, k.kind === "pbx" ? "—" : scope(k)) : null,
      el("td", {}, when(k.created_at)), el("td", {}, when(k.last_used_at)),
      el("td", { class: "actions" }, danger("Revoke", "Yes, revoke " + k.name, () => act("Revoke key " + k.name, "DELETE", "/apikeys/" + encodeURIComponent(k.name))))));
    const form = el("form", { class: "row", onsubmit: (e) => {
      e.preventDefault();
      const t = e.target;
      const body = { name: t.name.value, role: t.role.value, password: t.password.value };
      const chosen = t.sites ? [...t.sites.selectedOptions].map((o) => o.value) : [];
      if (chosen.length) body.sites = chosen;
      act("Create account " + t.name.value, "POST", "/accounts", body);
    } },
    field("Name", el("input", { name: "name", required: true })),
    field("Role", select("role", ROLES.filter((r) => r !== "partner" || (may("partner") && !BASE)).map((r) => [r, r]), "helpdesk")),
    sites.length ? field("Sites (none chosen: every site)", el("select", { name: "sites", multiple: true, size: String(Math.min(4, sites.length)) }, sites.map((n) => el("option", { value: n }, n)))) : null,
    field("Password (12+ characters)", el("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: "12" })),
    el("button", { type: "submit" }, "Create account"));
    const siteHeader = sites.length ? ["Sites"] : [];
    return [el("h3", { class: "section" }, "Console accounts"), table(["Name", "Role", ...siteHeader, "Created", "Last sign-in", ""], accountRows, "No accounts."), el("div", { class: "panel" }, form),
      el("h3", { class: "section" }, "API keys"), el("p", {}, "Keys are created on the server: hotdesk apikey create --role … [--site …]"),
      table(["Name", "Kind", "Role", ...siteHeader, "Created", "Last used", ""], keyRows, "No keys.")];
  },
};

function devicePanel(d, locks) {
  const buttons = [];
  if (may("helpdesk")) {
    buttons.push(el("button", { onclick: () => act("Reload " + d.mac, "POST", "/devices/" + d.mac + "/push", { action: "reload" }) }, "Push reload"));
    buttons.push(danger("Reboot", "Yes, reboot it (a call on it ends)", () => act("Reboot " + d.mac, "POST", "/devices/" + d.mac + "/push", { action: "reboot" }), "secondary"));
    const text = el("input", { name: "message", placeholder: "Message to show", maxlength: "200" });
    buttons.push(el("form", { class: "row", onsubmit: (e) => { e.preventDefault(); act("Message to " + d.mac, "POST", "/devices/" + d.mac + "/push", { action: "xml", text: text.value }); } },
      text, el("button", { type: "submit", class: "secondary" }, "Send message")));
    if (d.logged_in) buttons.push(danger("Force logout", "Yes, log out " + d.logged_in.extension, () => act("Log out " + d.logged_in.extension, "DELETE", "/sessions/" + d.mac)));
    for (const l of locks) buttons.push(el("button", { onclick: () => act("Clear lock of " + d.mac, "DELETE", "/locks/device/" + encodeURIComponent(d.mac)) }, "Clear lock"));
  }
  if (may("admin") && everySite()) {
    buttons.push(el("button", { class: "secondary", onclick: async () => {
      try {
        const p = await api("GET", "/devices/" + d.mac + "/config");
        state.preview = { mac: d.mac, body: p.body, config: p.config, masked: p.secrets_masked };
        render();
      } catch (e) { notice("Config of " + d.mac + ": " + e.message, true); }
    } }, "Show config"));
  }
  buttons.push(editButton("devices", d.mac, "Edit this phone"));
  if (may("admin") && d.claim_pending_from) {
    buttons.push(el("button", { onclick: () => act("Approve the claim of " + d.mac + " at " + d.claim_pending_from, "POST", "/devices/" + d.mac + "/approve-claim") }, "Approve claim"));
  }
  return el("div", { class: "panel", id: "device-panel", "data-mac": d.mac },
    el("h3", {}, d.mac + " — " + d.model),
    el("dl", {},
      el("dt", {}, "Logged in"), el("dd", {}, d.logged_in ? d.logged_in.extension + " " + d.logged_in.name + " since " + when(d.logged_in.since) : "nobody"),
      el("dt", {}, "Config"), el("dd", { class: "state-" + d.config }, d.config === "current" ? "current (the phone has what it should have)" : d.config === "changed" ? "pending: changed since its last fetch" : "never fetched"),
      el("dt", {}, "Last fetch"), el("dd", {}, when(d.last_fetch)),
      el("dt", {}, "Address"), el("dd", { class: "mono" }, d.address || "unknown"),
      el("dt", {}, "Claimed"), el("dd", {}, d.claimed_at ? when(d.claimed_at) : d.claim_pending_from ? "waiting for approval (asked from " + d.claim_pending_from + ")" : "not yet"),
      el("dt", {}, "Workspace"), el("dd", {}, d.workspace || "—"),
      el("dt", {}, "Users"), el("dd", {}, d.users.join(", ") || "anyone (hot desk)"),
      el("dt", {}, "Last push"), el("dd", { class: d.last_push ? "state-" + d.last_push.state : "" }, d.last_push ? "#" + d.last_push.id + " " + d.last_push.action + " " + d.last_push.state + " " + when(d.last_push.updated_at) : "none"),
      el("dt", {}, "Locks"), el("dd", {}, locks.length ? locks.map((l) => "until " + when(l.until)).join(", ") : "none")),
    el("div", { class: "row" }, buttons),
    state.preview && state.preview.mac === d.mac ? el("div", { id: "config-preview" },
      el("h4", {}, "The config it gets " + (state.preview.config === "current" ? "(it has it already)" : "at its next fetch") + ", " + state.preview.masked + " secret(s) masked"),
      el("pre", { class: "config" }, state.preview.body)) : null);
}

/// Older/newer for lists paged by a cursor: `stack` holds the cursors of the pages before.
function pager(next, stack, cursor) {
  const items = [];
  if (stack.length) items.push(el("button", { class: "secondary", onclick: () => { stack.pop(); render(); } }, "Back"));
  if (next && cursor !== null) items.push(el("button", { class: "secondary", onclick: () => { stack.push(cursor); render(); } }, "More"));
  return el("div", { class: "pager" }, items);
}

let rendering = Promise.resolve();
function render() {
  rendering = rendering.then(renderNow, renderNow);
  return rendering;
}

async function renderNow() {
  if (!state.session) return;
  const name = (location.hash || "#sessions").slice(1);
  const allowed = name === "organisations" ? may("partner") && !BASE : !["accounts", "directory"].includes(name) || (may("admin") && everySite());
  const view = views[name] && allowed ? views[name] : views.sessions;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.getAttribute("href") === "#" + name);
  try {
    await readZones();
    const parts = await view();
    const editing = entryEditor(name);
    patch($("content"), editing ? [editing, ...parts] : parts);
    document.body.dataset.view = name;
  } catch (e) {
    if (e.status !== 401) notice(e.message, true);
  }
}

window.addEventListener("hashchange", () => { notice(""); render(); });
document.addEventListener("DOMContentLoaded", async () => {
  // An organisation's console says whose it is.
  if (BASE) { document.querySelector("header h1").textContent = "HotDesk · " + BASE.slice(3); document.title += " · " + BASE.slice(3); }
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  const r = await fetch(BASE + "/admin/session", { credentials: "same-origin" });
  if (r.ok) signedIn(await r.json()); else signedOut();
});
