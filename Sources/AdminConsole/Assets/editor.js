// The directory edited in the console (admins of every site): one form per entry, sent in the
// directory file's own fields to PUT /api/v1/directory/{section}/{key}, which checks and applies
// it as an import of that one entry (the same checks, audit and pushes as hotdesk import).
// Secrets are never shown back: a secret left empty keeps what is stored. Problems come back
// named by field and are shown beside it. What is typed is kept in `state.editing.draft`, so a
// live update that redraws the form redraws it as typed.
"use strict";

const FAMILIES = ["cisco", "fanvil", "grandstream", "mitel", "polycom", "sangoma", "snom", "yealink"];

/// Each section's form: [field (nested ones dotted), label, kind, options].
const SECTIONS = {
  extensions: { one: "extension", key: "number", fields: [
    ["number", "Number (2-6 digits)", "text", { required: true, inputmode: "numeric" }],
    ["name", "Name", "text", { required: true }],
    ["voicemail_pin", "Voicemail PIN (4-12 digits)", "secret", { none: "No voicemail box (the user password logs in)" }],
    ["sip_password", "SIP password (8+ characters)", "secret"],
    ["caller_id", "Caller ID (absent: the number)", "text"],
    ["direct_dial", "Direct-dial number (callers outside dial it)", "text"],
    ["cos", "Class of service", "text"],
    ["site", "Home site", "text"],
    ["roaming", "Roaming: other sites, or every", "roaming"],
    ["language", "Language (en, de, fr, es)", "text"],
  ] },
  devices: { one: "phone", key: "mac", fields: [
    ["mac", "MAC", "text", { required: true }],
    ["model", "Model (e.g. yealink-t46u)", "text", { required: true }],
    ["users", "Users: a personal device (extensions)", "list"],
    ["workspace", "Workspace", "text"],
    ["site", "Site", "text"],
    ["line.number", "Own line while nobody is logged in: number", "text"],
    ["line.name", "Own line: name", "text"],
    ["line.sip_password", "Own line: SIP password", "secret"],
    ["emergency_caller_id", "Emergency caller ID", "text"],
    ["push_port", "Web port for pushes", "number"],
  ] },
  shared_lines: { one: "shared line", key: "number", fields: [
    ["number", "Number (2-6 digits)", "text", { required: true, inputmode: "numeric" }],
    ["name", "Name (the key's label)", "text", { required: true }],
    ["sip_password", "SIP password (8+ characters)", "secret"],
    ["caller_id", "Caller ID", "text"],
    ["licences", "Licences (at most this many members)", "number"],
    ["direct_dial", "Direct-dial number (callers outside dial it)", "text"],
    ["members", "Members, one a line: extension key ring (ring, no_ring or seconds)", "members"],
  ] },
  workspaces: { one: "workspace", key: "name", fields: [
    ["name", "Name", "text", { required: true }],
    ["licence", "Licence", "choice", { choices: [["professional", "professional (up to 5 phones)"], ["common_area", "common area (1 phone)"]] }],
    ["hot_desking", "Hot desking (its phones offer Login)", "bool", { fresh: true }],
    ["emergency_caller_id", "Emergency caller ID", "text"],
    ["site", "Site", "text"],
    ["room_type", "Room type", "choice", { choices: [["", "—"], ["desk", "desk"], ["focus", "focus room"], ["huddle", "huddle room"],
      ["meeting_room", "meeting room"], ["open", "open space"], ["other", "other"]] }],
    ["capacity", "Capacity (people)", "number"],
    ["line.number", "Its own number (its idle phones' line)", "text"],
    ["line.name", "Own number: name", "text"],
    ["line.sip_password", "Own number: SIP password", "secret"],
  ] },
  sites: { one: "site", key: "name", fields: [
    ["name", "Name (letters, digits, - _ .)", "text", { required: true }],
    ["internal_address", "Internal address (host:port)", "text"],
    ["external_address", "External address (host:port)", "text"],
    ["sip.server", "SIP server (host:port)", "text"],
    ["sip.realm", "SIP realm", "text"],
    ["sip.transport", "SIP transport (udp, tcp, tls)", "text"],
    ["sip.outbound_proxy", "Outbound proxy (host:port)", "text"],
    ["time_zone", "Time zone (e.g. Europe/Paris)", "text"],
    ["emergency_numbers", "Emergency numbers (replace the settings' here)", "list"],
    ["emergency_caller_id", "Emergency caller ID", "text"],
    ["emergency_location", "Emergency location (where a caller is)", "text"],
    ["visitor_cos", "Visitors' class of service", "text"],
    ["language", "Language (en, de, fr, es)", "text"],
  ] },
  templates: { one: "template", key: "name", push: false, fields: [
    ["name", "Name", "text", { required: true }],
    ["brand", "Family", "choice", { choices: FAMILIES.map((f) => [f, f]) }],
    ["default", "The family's default", "bool"],
    ["body", "Body (Mustache: docs/templates.md)", "body"],
  ] },
};

function mayEdit() { return may("admin") && everySite(); }

/// A button that opens the form of an entry (`key` null: a new one).
function editButton(section, key, label) {
  if (!mayEdit()) return null;
  return el("button", { type: "button", class: "secondary", "data-edit": section + ":" + (key || ""), onclick: () => openEntry(section, key) },
    label || (key ? "Edit" : "Add " + SECTIONS[section].one));
}

async function openEntry(section, key) {
  const view = (location.hash || "#sessions").slice(1);
  try {
    const read = key ? await api("GET", "/directory/" + section + "/" + encodeURIComponent(key)) : { entry: {}, secrets_set: [] };
    state.editing = { view, section, key: key ? read.key : null, entry: read.entry, secrets: read.secrets_set, draft: {}, problems: [] };
    notice("");
    await render();
    const first = document.querySelector("#entry-editor input:not([readonly]), #entry-editor textarea");
    if (first) first.focus();
  } catch (e) { notice("Open " + SECTIONS[section].one + " " + (key || "") + ": " + e.message, true); }
}

function closeEntry() { state.editing = null; render(); }

function get(entry, path) { return path.split(".").reduce((v, k) => (v && typeof v === "object" ? v[k] : undefined), entry); }

/// Sets `path` in `entry`; `undefined` removes it (and a parent left empty).
function put(entry, path, value) {
  const keys = path.split(".");
  let at = entry;
  for (const k of keys.slice(0, -1)) { if (!at[k] || typeof at[k] !== "object") at[k] = {}; at = at[k]; }
  if (value === undefined) delete at[keys[keys.length - 1]]; else at[keys[keys.length - 1]] = value;
  if (keys.length > 1 && !Object.keys(at).length) delete entry[keys[0]];
}

function words(text) { return text.split(/[\s,;]+/).filter((w) => w); }

/// What a field shows: the draft, else the entry's value written as the form takes it.
function shown(e, name, kind, options) {
  return name in e.draft ? e.draft[name] : stored(e, name, kind, options);
}

/// The entry's value written as the form takes it (what its markup carries: the same at every
/// redraw, so a field being typed into is equal to its redrawn self and is kept as it is).
function stored(e, name, kind, options) {
  const v = get(e.entry, name);
  switch (kind) {
    case "bool": return v === undefined ? Boolean(options.fresh) : v === true;
    case "choice": return v === undefined ? options.choices[0][0] : String(v);
    case "list": return (v || []).join(" ");
    case "roaming": return v === true ? "every" : (v || []).join(" ");
    case "members": return (v || []).map((m) => m.extension + " " + m.button + " " + (typeof m.ring === "object" ? m.ring.after_seconds : m.ring || "ring")).join("\n");
    case "secret": return "";
    default: return v === undefined || v === null ? "" : String(v);
  }
}

/// The value a field gives the entry (undefined: left out; for a secret, the stored one is kept).
function taken(value, kind, name, e) {
  switch (kind) {
    case "bool": return Boolean(value);
    case "number": return value.trim() === "" ? undefined : /^\d+$/.test(value.trim()) ? Number(value.trim()) : value.trim();
    case "list": return words(value).length ? words(value) : undefined;
    case "roaming": return words(value).join(" ") === "every" ? true : words(value).length ? words(value) : undefined;
    case "members": {
      const list = value.split("\n").map(words).filter((w) => w.length).map(([extension, button, ring]) => ({
        extension, button: /^\d+$/.test(button || "") ? Number(button) : button,
        ring: /^\d+$/.test(ring || "") ? { after_seconds: Number(ring) } : ring || "ring",
      }));
      return list.length ? list : undefined;
    }
    case "secret": return value !== "" ? value : e.draft["none:" + name] ? null : undefined;
    case "body": return value === "" ? undefined : value;
    default: return value.trim() === "" ? undefined : value.trim();
  }
}

/// Sets what was typed (the draft) as the field's live value, never as its markup.
function typed(input, e, name) {
  if (name in e.draft) { if (input.type === "checkbox") input.checked = e.draft[name]; else input.value = e.draft[name]; }
  return input;
}

function fieldInput([name, label, kind, options], e) {
  const o = options || {};
  const value = stored(e, name, kind, o);
  const isKey = name === SECTIONS[e.section].key && e.key;
  const mine = e.problems.filter((p) => p === name || p.startsWith(name + ":") || p.startsWith(name + ".") || p.startsWith(name + "["));
  let input;
  if (kind === "bool") input = el("input", { type: "checkbox", name, checked: value });
  else if (kind === "choice") input = select(name, o.choices, value);
  else if (kind === "members" || kind === "body") input = el("textarea", { name, rows: kind === "body" ? "16" : "4", class: kind === "body" ? "mono" : "", spellcheck: "false" }, value);
  else if (kind === "secret") {
    const set = e.secrets.includes(name);
    input = el("input", { name, type: "password", autocomplete: "new-password", placeholder: set ? "set: leave empty to keep it" : "not set" });
  } else input = el("input", { name, value, required: o.required, readonly: isKey, inputmode: o.inputmode });
  const parts = kind === "bool" ? [typed(input, e, name), " " + label] : [label, typed(input, e, name)];
  if (kind === "secret" && o.none && e.secrets.includes(name)) {
    parts.push(el("span", { class: "check" }, typed(el("input", { type: "checkbox", name: "none:" + name }), e, "none:" + name), " " + o.none));
  }
  for (const p of mine) parts.push(el("span", { class: "error field-problem" }, p.startsWith(name + ": ") ? p.slice(name.length + 2) : p));
  return el("label", { class: "field-" + kind + (kind === "bool" ? " check" : "") + (mine.length ? " invalid" : ""), "data-field": name }, ...parts);
}

/// The open form, or nothing (it shows in the view it was opened from).
function entryEditor(view) {
  const e = state.editing;
  if (!e || e.view !== view) return null;
  const spec = SECTIONS[e.section];
  const names = spec.fields.map((f) => f[0]);
  const general = e.problems.filter((p) => !names.some((n) => p === n || p.startsWith(n + ":") || p.startsWith(n + ".") || p.startsWith(n + "[")));
  const form = el("form", { id: "entry-editor", class: "panel editor", "data-section": e.section, "data-key": e.key || "",
    oninput: (ev) => { const t = ev.target; if (t.name) e.draft[t.name] = t.type === "checkbox" ? t.checked : t.value; },
    onchange: (ev) => { const t = ev.target; if (t.name) e.draft[t.name] = t.type === "checkbox" ? t.checked : t.value; },
    onsubmit: (ev) => { ev.preventDefault(); saveEntry(); } },
  el("h3", {}, e.key ? "Edit " + spec.one + " " + e.key : "Add " + spec.one),
  general.length ? el("ul", { class: "error", id: "entry-problems" }, general.map((p) => el("li", {}, p))) : null,
  el("div", { class: "fields" }, spec.fields.map((f) => fieldInput(f, e))),
  el("label", { class: "check" }, typed(el("input", { type: "checkbox", name: "push", checked: spec.push !== false }), e, "push"),
    " Push the phones whose config this changes"),
  el("div", { class: "row" }, el("button", { type: "submit" }, e.key ? "Save" : "Add"),
    el("button", { type: "button", class: "secondary", onclick: closeEntry }, "Cancel"),
    // (A site leaves by an import with prune: its phones and people move first.)
    e.key && e.section !== "sites" ? danger("Delete", "Yes, delete " + spec.one + " " + e.key, deleteEntry) : null),
  e.section === "templates" && e.key ? templatePreview(e) : null);
  return form;
}

async function saveEntry() {
  const e = state.editing;
  const spec = SECTIONS[e.section];
  const entry = JSON.parse(JSON.stringify(e.entry));
  for (const [name, , kind, options] of spec.fields) {
    const raw = name in e.draft ? e.draft[name] : shown(e, name, kind, options || {});
    put(entry, name, taken(raw, kind, name, e));
  }
  const key = e.key || get(entry, spec.key) || "";
  const push = "push" in e.draft ? e.draft.push : spec.push !== false;
  const path = "/directory/" + e.section + "/" + encodeURIComponent(key) + (push ? "" : "?push=false");
  try {
    const headers = { "Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": state.session.csrf_token };
    if (!e.key) headers["If-None-Match"] = "*";
    const r = await fetch(BASE + "/api/v1" + path, { method: "PUT", headers, body: JSON.stringify(entry), credentials: "same-origin" });
    const json = await r.json().catch(() => ({}));
    if (r.status === 401) { signedOut(); return; }
    if (!r.ok) {
      const err = json.error || {};
      e.problems = err.problems || [err.message || r.statusText];
      notice((e.key ? "Not saved: " : "Not added: ") + (e.problems.length === 1 ? e.problems[0] : e.problems.length + " problems, shown in the form"), true);
      await render();
      return;
    }
    state.editing = null;
    notice(spec.one[0].toUpperCase() + spec.one.slice(1) + " " + key + (r.status === 201 ? " added" : json.updated ? " saved" : ": nothing changed")
      + (json.pushed ? "; pushing " + json.pushed + " phone(s)" : push ? "" : " (no phone pushed)"));
    await render();
  } catch (err) { notice("Save: " + err.message, true); }
}

async function deleteEntry() {
  const e = state.editing;
  const spec = SECTIONS[e.section];
  const answer = await act("Delete " + spec.one + " " + e.key, "DELETE", "/directory/" + e.section + "/" + encodeURIComponent(e.key));
  if (answer) { state.editing = null; await render(); }
}

/// A template is previewed on a phone once saved: the config that phone gets now (secrets masked).
function templatePreview(e) {
  const mac = typed(el("input", { name: "preview-mac", placeholder: "MAC of a phone of this family" }), e, "preview-mac");
  return el("div", { class: "preview" },
    el("div", { class: "row" }, field("Preview the saved template on a phone", mac),
      el("button", { type: "button", class: "secondary", onclick: async () => {
        // Read from the draft: the field shown may be an earlier drawing of this one.
        const phone = (e.draft["preview-mac"] || "").replace(/[^0-9A-Fa-f:.-]/g, "");
        try {
          const p = await api("GET", "/devices/" + phone + "/config");
          e.preview = { mac: phone, body: p.body, masked: p.secrets_masked, config: p.config };
        } catch (err) { e.preview = null; notice("Preview: " + err.message, true); }
        await render();
      } }, "Show its config"),
      may("helpdesk") ? el("button", { type: "button", class: "secondary", onclick: () => act("Push every changed phone", "POST", "/devices/push-changed") }, "Push changed phones") : null),
    e.preview ? el("div", { id: "template-preview" },
      el("h4", {}, e.preview.mac + " gets " + (e.preview.config === "current" ? "(it has it already)" : "at its next fetch") + ", " + e.preview.masked + " secret(s) masked"),
      el("pre", { class: "config" }, e.preview.body)) : null);
}

const SECTION_TITLES = [["extensions", "Extensions"], ["devices", "Phones"], ["shared_lines", "Shared lines"], ["workspaces", "Workspaces"], ["sites", "Sites"], ["templates", "Templates"]];

/// Every section's entries by key, each opening its form; a section read a page at a time.
views.directory = async function () {
  const section = state.directorySection || "extensions";
  const after = (state.directoryAfter || [])[(state.directoryAfter || []).length - 1];
  const page = await api("GET", "/directory/" + section + "?limit=200" + (after ? "&after=" + encodeURIComponent(after) : ""));
  toolbar("Directory", field("Section", select("section", SECTION_TITLES, section, (ev) => { state.directorySection = ev.target.value; state.directoryAfter = []; render(); })),
    editButton(section, null),
    el("a", { href: BASE + "/api/v1/directory", download: "hotdesk-directory.yaml", id: "directory-yaml" }, "Export the directory (YAML, no secrets)"));
  const rows = page.keys.map((k) => el("tr", { class: mayEdit() ? "clickable" : "", "data-key": k, title: mayEdit() ? "Edit" : "",
    onclick: mayEdit() ? (ev) => { if (!ev.target.closest("button")) openEntry(section, k); } : undefined },
  el("td", { class: section === "devices" ? "mono" : "" }, k), el("td", { class: "actions" }, editButton(section, k))));
  state.directoryAfter = state.directoryAfter || [];
  return [table([SECTIONS[section].key, ""], rows, "None yet."), pager(page.next, state.directoryAfter, page.next)];
};

/// A partner's organisations, each opening its own console (signed in there as the partner), and
/// a new one made (its empty directory, served at once).
views.organisations = async function () {
  const list = await api("GET", "/organisations");
  const name = el("input", { id: "new-organisation", placeholder: "acme", maxlength: "30", autocomplete: "off" });
  const make = async (ev) => {
    ev.preventDefault();
    try {
      const made = await api("POST", "/organisations", { name: name.value.trim() });
      notice("Organisation " + made.name + " made: open its console to fill it.");
      render();
    } catch (e) { notice(e.message, true); }
  };
  toolbar("Organisations", el("span", {}, list.organisations.length + " beside the main directory"),
    el("form", { id: "organisation-form", onsubmit: make },
      field("New organisation (a-z, 0-9, -)", name), el("button", { type: "submit" }, "Make organisation")));
  const rows = list.organisations.map((o) => el("tr", { "data-organisation": o.name },
    el("td", {}, o.name), el("td", {}, el("a", { href: o.path + "/admin" }, "Open its console")), el("td", { class: "mono" }, o.path + "/api/v1")));
  return [table(["Organisation", "Console", "API"], rows, "No organisations (hotdesk import --org NAME makes one).")];
};

/// An empty site's first page: what to do first, each step a button.
async function firstRun() {
  if (!mayEdit()) return null;
  const [people, phones] = await Promise.all([api("GET", "/directory/extensions?limit=1"), api("GET", "/directory/devices?limit=1")]);
  if (people.keys.length || phones.keys.length) return null;
  const here = location.protocol + "//" + location.host + BASE;
  return el("div", { class: "panel", id: "first-run" },
    el("h3", {}, "Getting started"),
    el("p", {}, "HotDesk has no people and no phones yet. Three steps:"),
    el("ol", {},
      el("li", {}, "Add the people who log in — one at a time, or a CSV file of them in Extensions & locks. ", editButton("extensions", null, "Add an extension")),
      el("li", {}, "Point the phones at ", el("code", {}, here + "/provision/"), " (their provisioning server, or DHCP option 66). With default_login on they enrol as they ask; or add one: ",
        editButton("devices", null, "Add a phone")),
      el("li", {}, "At a phone: the Login key, Login Int, the extension and its PIN. It shows up in Sessions.")),
    el("p", {}, "Addresses, the SIP server and the policies come from a directory file: hotdesk import " + (BASE ? "--org " + BASE.slice(3) + " " : "")
      + "directory.yaml (docs/directory.md)."));
}
