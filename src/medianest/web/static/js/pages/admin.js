// Administration: users, service connections, the library's folders and scans, and the audit log.
// One module for the four `#/admin/:section` pages; each section draws into the page body and returns
// its own cleanup (socket handlers, timers), which render() hands back to the router.
import { api, currentUser } from "../api.js";
import * as socket from "../socket.js";
import { clear, confirm, dialog, empty, errorText, errorView, fmtAgo, fmtDate, h, setTitle, showError, toast } from "../ui.js";

const SECTIONS = [["users", "Users"], ["services", "Services"], ["library", "Library"], ["audit", "Audit log"]];
const KINDS = [["plex", "Plex Media Server"], ["seerr", "Seerr / Overseerr"], ["uptime_kuma", "Uptime Kuma status page"],
  ["opensubtitles", "OpenSubtitles"], ["google_tts", "Google Cloud Text-to-Speech"],
  ["generic_http", "Any HTTP service"]];
const KIND_LABEL = Object.fromEntries(KINDS);
// What the `secret` field holds for each kind (see services/probes.py and clients.py).
const SECRET_HELP = {
  plex: "The server's X-Plex-Token.",
  seerr: "Seerr's API key (Settings → General).",
  uptime_kuma: "Not needed for a public status page.",
  opensubtitles: "Your OpenSubtitles API consumer key.",
  google_tts: "A Google Cloud API key allowed to use the Text-to-Speech API.",
  generic_http: "Optional; sent as a bearer token.",
};
const URL_HINT = {
  plex: "http://plex.lan:32400", seerr: "http://seerr.lan:5055", uptime_kuma: "http://kuma.lan:3001",
  opensubtitles: "https://api.opensubtitles.com/api/v1", google_tts: "https://texttospeech.googleapis.com",
  generic_http: "https://service.lan/health",
};
// Actions the server records (audit/service.record callers); the filter also takes a prefix ending in ".".
const AUDIT_ACTIONS = ["auth.", "auth.login", "auth.login_failed", "auth.plex_login", "auth.plex_login_refused",
  "auth.refresh_reuse", "auth.setup", "user.", "user.create", "user.update", "user.delete", "api_key.create",
  "api_key.revoke", "session.revoke", "service.", "service.create", "service.update", "service.delete",
  "media.update", "media.purge", "request.create", "request.cancel"];
const SCAN_KEY = "medianest.lastScan";
const POLL_MS = 2000;

export async function render(root, params, query) {
  const section = SECTIONS.find(([key]) => key === params.section);
  if (!section) {
    root.append(empty("There is no such administration page.", h("a", { class: "btn", href: "#/admin/users" }, "Users")));
    return () => {};
  }
  setTitle(section[1]);
  const body = h("div", { class: "admin-body" });
  root.append(h("div", { class: "page-admin", "data-testid": `admin-${section[0]}` },
    h("div", { class: "page-head" }, h("h1", {}, section[1])),
    tabs(section[0]), body));
  const draw = { users: drawUsers, services: drawServices, library: drawLibrary, audit: drawAudit }[section[0]];
  const cleanup = await draw(body, query);
  return typeof cleanup === "function" ? cleanup : () => {};
}

function tabs(current) {
  return h("nav", { class: "tabs", "aria-label": "Administration" },
    SECTIONS.map(([key, label]) => h("a", { href: `#/admin/${key}`, class: "tab",
      "aria-current": key === current ? "page" : null }, label)));
}

// ---------------------------------------------------------------------------------------------------
// Shared helpers

// On a phone each row becomes a card and each cell says what it is: its column's heading goes in data-label.
function table(head, rows, attrs = {}) {
  for (const row of rows) [...row.children].forEach((cell, i) => { if (head[i]) cell.dataset.label = head[i]; });
  return h("div", { class: "table-wrap" },
    h("table", { class: "table", ...attrs },
      h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
}

function badge(text, tone = "", attrs = {}) {
  return h("span", { class: `badge${tone ? " tone-" + tone : ""}`, ...attrs }, text);
}

function statusDot(status) {
  return h("span", { class: `dot dot-${status || "unknown"}`, "aria-hidden": "true" });
}

const enc = encodeURIComponent;

// Prev/Next from the list envelope's meta; nothing when everything fits on one page.
function pager(meta, go) {
  const page = meta?.page || 1;
  if (page === 1 && !meta?.has_more) return null;
  const pages = meta.total && meta.per_page ? Math.max(1, Math.ceil(meta.total / meta.per_page)) : null;
  return h("div", { class: "pager", "data-testid": "pager" },
    h("button", { class: "btn ghost", type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, "← Prev"),
    h("span", { class: "muted small" }, pages ? `Page ${page} of ${pages}` : `Page ${page}`),
    h("button", { class: "btn ghost", type: "button", disabled: !meta.has_more, onclick: () => go(page + 1) }, "Next →"));
}

// Every page of a (small) admin list: users and services rarely pass one page of 100.
async function fetchAll(path, params = {}) {
  const out = [];
  for (let page = 1; page <= 20; page++) {
    const r = await api.get(path, { ...params, page, per_page: 100 });
    out.push(...r.data);
    if (!r.meta?.has_more) break;
  }
  return out;
}

// A form in a dialog that stays open on failure: the dialog is shown again with what was typed and the
// server's message, so a 409 or 422 never throws away the person's input.
async function formLoop(title, build, action, opts = {}) {
  let values = opts.initial || {};
  let error = null;
  for (;;) {
    const got = await dialog(title, build(values, error), { submit: opts.submit || "Save" });
    if (!got) return null;
    values = got;
    try { return await action(got); } catch (err) { error = errorText(err); }
  }
}

function formError(error) {
  return error ? h("p", { class: "form-error", role: "alert" }, error) : null;
}

function field(label, input, hint) {
  return h("label", { class: "field" }, label, input, hint ? h("span", { class: "muted small" }, hint) : null);
}

function check(name, label, checked) {
  return h("label", { class: "check" }, h("input", { type: "checkbox", name, checked: !!checked }), label);
}

// Buttons that act on the server: disabled while the call runs, failures shown as a toast.
async function busy(btn, work) {
  btn.disabled = true;
  try { return await work(); } catch (err) { showError(err); return undefined; } finally { btn.disabled = false; }
}

function refreshFeatures() {
  // Lazily: main.js imports this module, so a static import back would be a cycle at load time.
  import("../main.js").then((m) => m.refreshFeatures()).catch(() => {});
}

// ---------------------------------------------------------------------------------------------------
// Users

async function drawUsers(body) {
  const list = h("div", { "data-testid": "user-list" });
  let page = 1;
  const reload = async () => {
    try {
      const r = await api.get("/users", { page, per_page: 50 });
      if (!r.data.length && page > 1) { page--; await reload(); return; }  // the last one on a page went
      clear(list, r.data.length ? userTable(r.data, reload) : empty("No users yet."),
        pager(r.meta, (p) => { page = p; reload(); }));
    } catch (err) {
      clear(list, errorView(err, reload));
    }
  };
  body.append(h("div", { class: "toolbar" },
    h("p", { class: "muted small" }, "Suspending a user signs them out everywhere and revokes their API keys."),
    h("span", { class: "spacer" }),
    h("button", { class: "btn primary", type: "button", "data-testid": "add-user", onclick: () => createUser(reload) }, "Add user")),
  list);
  await reload();
}

function userTable(users, reload) {
  return table(["User", "Role", "Status", "Created", "Last sign-in", ""], users.map((u) => userRow(u, reload)));
}

function userRow(u, reload) {
  const self = u.id === currentUser()?.id;
  const suspended = u.status === "suspended";
  return h("tr", { "data-testid": "user-row", dataset: { id: u.id, username: u.username } },
    h("td", {}, h("strong", {}, u.username), self ? h("span", { class: "muted small" }, " (you)") : null),
    h("td", {}, badge(u.role, u.role === "admin" ? "accent" : "")),
    h("td", {}, badge(u.status, suspended ? "danger" : "ok", { "data-testid": "user-status" })),
    h("td", { class: "nowrap" }, fmtDate(u.created_at)),
    h("td", { class: "nowrap", title: fmtDate(u.last_login_at) }, u.last_login_at ? fmtAgo(u.last_login_at) : "never"),
    h("td", { class: "row-actions" }, userActions(u, self, reload)));
}

function userActions(u, self, reload) {
  const admin = u.role === "admin";
  const selfNote = (what) => self ? `You cannot ${what} your own account` : null;
  const mk = (label, attrs, fn) => {
    const b = h("button", { class: "btn small", type: "button", ...attrs }, label);
    b.addEventListener("click", () => fn(b));
    return b;
  };
  return [
    mk(admin ? "Make user" : "Make admin", { disabled: self && admin, title: selfNote("demote") },
      (b) => patchUser(b, u, { role: admin ? "user" : "admin" }, `${u.username} is now ${admin ? "a user" : "an admin"}.`, reload)),
    u.status === "suspended"
      ? mk("Reactivate", {}, (b) => patchUser(b, u, { status: "active" }, `${u.username} can sign in again.`, reload))
      : mk("Suspend", { disabled: self, title: selfNote("suspend") }, (b) => suspendUser(b, u, reload)),
    mk("Reset password", {}, () => resetPassword(u, reload)),
    mk("Delete", { class: "btn small danger", disabled: self, title: selfNote("delete") }, (b) => deleteUser(b, u, reload)),
  ];
}

async function patchUser(btn, u, patch, done, reload) {
  const ok = await busy(btn, () => api.patch(`/users/${enc(u.id)}`, patch));
  if (ok) { toast(done, "success"); await reload(); }
}

async function suspendUser(btn, u, reload) {
  if (!await confirm(`Suspend ${u.username}?`,
    "They are signed out everywhere and their API keys are revoked (reactivating does not bring the keys back).", "Suspend")) return;
  await patchUser(btn, u, { status: "suspended" }, `${u.username} is suspended.`, reload);
}

async function deleteUser(btn, u, reload) {
  if (!await confirm(`Delete ${u.username}?`, "Their playlists, history and requests go with the account. This cannot be undone.")) return;
  const ok = await busy(btn, () => api.del(`/users/${enc(u.id)}`));
  if (ok) { toast(`${u.username} was deleted.`, "success"); await reload(); }
}

function passwordPair(values) {
  const first = h("input", { type: "password", name: "password", required: true, minlength: 8, maxlength: 1024,
    autocomplete: "new-password", value: values.password || "" });
  const again = h("input", { type: "password", name: "password2", required: true, autocomplete: "new-password",
    value: values.password2 || "" });
  // The dialog validates with reportValidity(), so a mismatch is a custom validity message.
  const sync = () => again.setCustomValidity(again.value && again.value !== first.value ? "The passwords differ." : "");
  first.addEventListener("input", sync);
  again.addEventListener("input", sync);
  return [field("Password", first, "At least 8 characters."), field("Repeat the password", again)];
}

function createUser(reload) {
  const build = (v, error) => h("div", { class: "form-grid" }, formError(error),
    field("Username", h("input", { name: "username", required: true, maxlength: 64, pattern: "[\\w.@+\\-]+",
      autocomplete: "off", value: v.username || "", title: "Letters, digits and . @ + - _" })),
    passwordPair(v),
    field("Role", h("select", { name: "role" },
      h("option", { value: "user", selected: v.role !== "admin" }, "User"),
      h("option", { value: "admin", selected: v.role === "admin" }, "Administrator"))));
  return formLoop("Add a user", build, async (v) => {
    const r = await api.post("/users", { username: v.username.trim(), password: v.password, role: v.role });
    toast(`${r.data.username} was added.`, "success");
    await reload();
  }, { submit: "Add user" });
}

function resetPassword(u, reload) {
  const build = (v, error) => h("div", { class: "form-grid" }, formError(error),
    h("p", { class: "muted small" }, `${u.username} is signed out of every session and signs in again with the new password.`),
    passwordPair(v));
  return formLoop(`New password for ${u.username}`, build, async (v) => {
    await api.patch(`/users/${enc(u.id)}`, { password: v.password });
    toast(`The password of ${u.username} was changed.`, "success");
    await reload();
  }, { submit: "Set password" });
}

// ---------------------------------------------------------------------------------------------------
// Services

async function drawServices(body) {
  const list = h("div", { class: "service-list", "data-testid": "service-list" });
  const plexBox = h("section", { class: "plex-box", "data-testid": "plex-libraries" });
  const cards = new Map();  // id → {svc, status}: the live status line of each card
  const reload = async () => {
    try {
      const services = await fetchAll("/services");
      cards.clear();
      clear(list, services.length ? services.map((s) => serviceCard(s, cards, reload))
        : empty("No connections yet. Add Plex, Seerr, Uptime Kuma, OpenSubtitles or any HTTP service to watch."));
      drawPlex(plexBox, services);
    } catch (err) {
      clear(list, errorView(err, reload));
    }
  };
  body.append(h("div", { class: "toolbar" },
    h("p", { class: "muted small" }, "Secrets are stored encrypted and never shown again."),
    h("span", { class: "spacer" }),
    h("button", { class: "btn primary", type: "button", "data-testid": "add-service",
      onclick: () => editService(null, reload) }, "Add connection")),
  list, plexBox);
  // Status changes arrive on the board's room; the matching card's status line follows them.
  const unsubscribe = socket.subscribe("status");
  const off = socket.on("status:update", (entry) => {
    const card = cards.get(entry?.id);
    if (!card) return;
    Object.assign(card.svc, { status: entry.status, response_ms: entry.response_ms, checked_at: entry.checked_at });
    clear(card.status, statusLine(card.svc));
  });
  await reload();
  return () => { off(); unsubscribe(); };
}

function statusLine(svc) {
  const parts = [svc.enabled ? svc.status : "not checked (disabled)"];
  if (svc.enabled && svc.response_ms !== null && svc.response_ms !== undefined) parts.push(`${Math.round(svc.response_ms)} ms`);
  if (svc.enabled) parts.push(svc.checked_at ? `checked ${fmtAgo(svc.checked_at)}` : "not checked yet");
  return [statusDot(svc.enabled ? svc.status : "unknown"), h("span", { "data-testid": "service-status" }, parts.join(" · "))];
}

function serviceCard(svc, cards, reload) {
  const status = h("p", { class: "status-line small" }, statusLine(svc));
  cards.set(svc.id, { svc, status });
  const result = h("div", { class: "test-result", "aria-live": "polite", "data-testid": "test-result" });
  const testBtn = h("button", { class: "btn", type: "button" }, "Test");
  testBtn.addEventListener("click", () => testService(svc, testBtn, result));
  const delBtn = h("button", { class: "btn danger", type: "button" }, "Delete");
  delBtn.addEventListener("click", () => deleteService(svc, delBtn, reload));
  const secrets = [svc.has_secret ? "secret set" : "no secret", ...(svc.secret_options || []).map((k) => `${k} set`)];
  return h("article", { class: "card service-card", "data-testid": "service-row", dataset: { id: svc.id, kind: svc.kind } },
    h("div", { class: "service-head" },
      h("h3", {}, svc.name),
      badge(KIND_LABEL[svc.kind] || svc.kind),
      svc.enabled ? null : badge("disabled", "muted"),
      svc.seeded ? badge("from settings", "muted", { title: "Created from MEDIANEST_* variables: its URL, secret and options follow them at each start." }) : null),
    h("p", { class: "service-url muted small" }, svc.url),
    status,
    svc.detail ? h("p", { class: "service-detail muted small" }, svc.detail) : null,
    h("p", { class: "muted small" }, secrets.join(" · "), optionSummary(svc)),
    h("div", { class: "toolbar" }, testBtn,
      h("button", { class: "btn ghost", type: "button", onclick: () => editService(svc, reload) }, "Edit"), delBtn),
    result);
}

function optionSummary(svc) {
  const o = svc.options || {};
  const bits = [];
  if (o.slug) bits.push(`slug ${o.slug}`);
  if (o.username) bits.push(`user ${o.username}`);
  if (o.request_user_id !== undefined) bits.push(`requests as Seerr user ${o.request_user_id}`);
  if (o.path_map && typeof o.path_map === "object") bits.push(`${Object.keys(o.path_map).length} path mapping(s)`);
  return bits.length ? " · " + bits.join(" · ") : "";
}

async function testService(svc, btn, out) {
  clear(out, h("span", { class: "muted small" }, "Testing…"));
  btn.disabled = true;
  try {
    const r = (await api.post(`/services/${enc(svc.id)}/test`)).data;
    const ms = r.response_ms === null || r.response_ms === undefined ? "" : ` · ${Math.round(r.response_ms)} ms`;
    clear(out, h("p", { class: `small test-${r.ok ? "ok" : "fail"}`, role: "status", dataset: { ok: String(r.ok) } },
      statusDot(r.status), h("strong", {}, r.ok ? "Works" : `Failed (${r.status})`), ms, r.detail ? ` — ${r.detail}` : ""));
  } catch (err) {
    clear(out, h("p", { class: "small test-fail", role: "alert", dataset: { ok: "false" } }, errorText(err)));
  } finally {
    btn.disabled = false;
  }
}

async function deleteService(svc, btn, reload) {
  if (!await confirm(`Delete ${svc.name}?`, "The connection, its secret and its status history are removed.")) return;
  const ok = await busy(btn, () => api.del(`/services/${enc(svc.id)}`));
  if (ok) { toast(`${svc.name} was deleted.`, "success"); refreshFeatures(); await reload(); }
}

// The dialog's starting values, in the shape FormData gives back (checkboxes "on" or absent).
function serviceValues(svc) {
  if (!svc) return { kind: "plex", enabled: "on" };
  const o = svc.options || {};
  return { kind: svc.kind, name: svc.name, url: svc.url, enabled: svc.enabled ? "on" : undefined,
    request_user_id: o.request_user_id ?? "", slug: o.slug || "", username: o.username || "",
    path_map: pathMapText(o.path_map) };
}

function editService(svc, reload) {
  const build = (v, error) => serviceForm(svc, v, error);
  return formLoop(svc ? `Edit ${svc.name}` : "Add a connection", build, async (v) => {
    const kind = svc ? svc.kind : v.kind;
    const body = { name: v.name.trim(), url: v.url.trim(), enabled: v.enabled === "on", options: serviceOptions(kind, v, svc) };
    if (v.secret) body.secret = v.secret;
    else if (svc && v.remove_secret === "on") body.secret = "";  // "" removes the stored secret
    if (svc) await api.patch(`/services/${enc(svc.id)}`, body);
    else await api.post("/services", { kind, ...body });
    toast(svc ? `${body.name} was saved.` : `${body.name} was added; it is checked within a minute.`, "success");
    refreshFeatures();
    await reload();
  }, { submit: svc ? "Save" : "Add", initial: serviceValues(svc) });
}

function serviceForm(svc, v, error) {
  const kind = svc ? svc.kind : v.kind || "plex";
  const kindSel = h("select", { name: "kind", disabled: !!svc, "data-testid": "service-kind" },
    KINDS.map(([k, label]) => h("option", { value: k, selected: k === kind }, label)));
  const url = h("input", { name: "url", type: "url", required: true, maxlength: 2048, value: v.url || "",
    placeholder: URL_HINT[kind], autocomplete: "off" });
  const secretHelp = h("span", { class: "muted small" }, SECRET_HELP[kind]);
  const groups = kindFields(svc, v);
  // Only the chosen kind's options are live: a disabled fieldset is neither validated nor submitted.
  const show = (k) => {
    for (const [name, fs] of Object.entries(groups)) { fs.hidden = name !== k; fs.disabled = name !== k; }
    url.placeholder = URL_HINT[k];
    secretHelp.textContent = SECRET_HELP[k];
  };
  kindSel.addEventListener("change", () => show(kindSel.value));
  show(kind);
  return h("div", { class: "form-grid service-form" }, formError(error),
    field("Kind", kindSel),
    field("Name", h("input", { name: "name", required: true, maxlength: 100, value: v.name || "", autocomplete: "off" })),
    field("URL", url),
    h("label", { class: "field" }, svc ? "Secret (leave empty to keep)" : "Secret",
      h("input", { name: "secret", type: "password", maxlength: 4096, pattern: "[!-~]*", autocomplete: "new-password",
        value: v.secret || "", title: "Printable characters, no spaces" }), secretHelp),
    svc?.has_secret ? check("remove_secret", "Remove the stored secret", v.remove_secret === "on") : null,
    check("enabled", "Enabled (checked for the status board)", v.enabled === "on"),
    Object.values(groups));
}

function kindFields(svc, v) {
  const fs = (legend, ...children) => h("fieldset", { class: "kind-options" }, h("legend", {}, legend), ...children);
  const hasPassword = (svc?.secret_options || []).includes("password");
  return {
    plex: fs("Plex",
      field("Folder mapping (optional)", h("textarea", { name: "path_map", rows: 3, value: v.path_map || "",
        placeholder: "/srv/media/music = /data/music" }),
      "When Plex sees the media folders under other paths (say, in a container): one “our folder = Plex's folder” per line.")),
    seerr: fs("Seerr",
      field("Request as Seerr user id (optional)", h("input", { name: "request_user_id", type: "number", min: 1, step: 1,
        value: v.request_user_id ?? "" }), "Requests are made as this Seerr user and then await approval there.")),
    uptime_kuma: fs("Uptime Kuma",
      field("Status page slug", h("input", { name: "slug", required: true, maxlength: 200, value: v.slug || "",
        placeholder: "default", autocomplete: "off" }), "The last part of the status page's address (/status/<slug>).")),
    opensubtitles: fs("OpenSubtitles account (optional, for more downloads)",
      field("Username", h("input", { name: "username", maxlength: 200, value: v.username || "", autocomplete: "off" })),
      field(hasPassword ? "Password (leave empty to keep)" : "Password",
        h("input", { name: "os_password", type: "password", maxlength: 1024, value: v.os_password || "", autocomplete: "new-password" })),
      hasPassword ? check("remove_os_password", "Remove the stored password", v.remove_os_password === "on") : null),
    generic_http: fs("HTTP check", h("p", { class: "muted small" }, "The URL is fetched with GET; any 2xx or 3xx answer counts as up.")),
  };
}

// The options object for the API. On edit, options this form does not know are kept (PATCH replaces
// the plain options wholesale); write-only ones (the password) are sent only to set or remove them.
function serviceOptions(kind, v, svc) {
  const o = { ...(svc?.options || {}) };
  const set = (key, value) => { if (value === "" || value === undefined || value === null) delete o[key]; else o[key] = value; };
  if (kind === "seerr") set("request_user_id", v.request_user_id ? Number(v.request_user_id) : "");
  if (kind === "uptime_kuma") set("slug", (v.slug || "").trim());
  if (kind === "plex") set("path_map", parsePathMap(v.path_map || ""));
  if (kind === "opensubtitles") {
    set("username", (v.username || "").trim());
    if (v.os_password) o.password = v.os_password;
    else if (v.remove_os_password === "on") o.password = "";  // "" removes the stored one
  }
  return o;
}

function pathMapText(map) {
  if (!map || typeof map !== "object") return "";
  return Object.entries(map).map(([ours, theirs]) => `${ours} = ${theirs}`).join("\n");
}

// "ours = theirs" per line (or a JSON object); an empty box means no mapping.
function parsePathMap(text) {
  const trimmed = text.trim();
  if (!trimmed) return "";
  if (trimmed.startsWith("{")) {
    try { return JSON.parse(trimmed); } catch { throw new Error("The folder mapping is not valid JSON."); }
  }
  const map = {};
  for (const line of trimmed.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    if (at < 1) throw new Error(`Folder mapping: “${line}” needs the form “our folder = Plex's folder”.`);
    map[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return map;
}

// Plex's libraries, asked for at once only when a Plex connection was last seen up: asking a Plex that
// is down waits through retries and ends in an error, so then it is a button instead.
function drawPlex(box, services) {
  const plex = services.filter((s) => s.kind === "plex" && s.enabled);
  if (!plex.length) { clear(box); return; }
  if (plex.some((s) => s.status === "up")) { loadPlex(box); return; }
  clear(box, h("h2", {}, "Plex libraries"),
    h("p", { class: "muted small" }, plex.some((s) => s.status === "unknown") ? "Plex has not been checked yet."
      : "Plex did not answer its last check."),
    h("button", { class: "btn", type: "button", onclick: () => loadPlex(box) }, "Ask Plex for its libraries"));
}

async function loadPlex(box) {
  clear(box, h("h2", {}, "Plex libraries"), h("p", { class: "muted small" }, "Asking Plex…"));
  try {
    const libs = (await api.get("/plex/libraries")).data;
    clear(box, h("h2", {}, "Plex libraries"),
      libs.length ? table(["Library", "Type", "Folders"], libs.map((lib) => h("tr", { "data-testid": "plex-library" },
        h("td", {}, lib.title), h("td", {}, lib.type), h("td", { class: "paths" }, lib.paths.map((p) => h("div", {}, p))))))
        : empty("Plex has no libraries."),
      h("p", { class: "muted small" }, "After a scan adds or removes files, MediaNest asks Plex to refresh the libraries that cover them."));
  } catch (err) {
    clear(box, h("h2", {}, "Plex libraries"),
      h("p", { class: "form-error", role: "alert" }, `Plex could not be asked: ${errorText(err)}`),
      h("button", { class: "btn", type: "button", onclick: () => loadPlex(box) }, "Try again"));
  }
}

// ---------------------------------------------------------------------------------------------------
// Library: folders and scans

async function drawLibrary(body) {
  const folders = h("div", { class: "folder-list", "data-testid": "folder-list" });
  const progress = h("div", { class: "scan-box", "aria-live": "polite" });
  const scanBtn = h("button", { class: "btn primary", type: "button", "data-testid": "scan-now" }, "Scan now");
  const scan = scanTracker(progress, scanBtn, () => loadFolders(folders));
  scanBtn.addEventListener("click", () => scan.start());
  body.append(
    h("div", { class: "toolbar" },
      h("p", { class: "muted small" }, "New and changed files are picked up by a scan; the folders are set with MEDIANEST_MEDIA_DIRS."),
      h("span", { class: "spacer" }), scanBtn),
    progress, h("h2", {}, "Media folders"), folders);
  await Promise.all([loadFolders(folders), scan.resume()]);
  return scan.stop;
}

async function loadFolders(box) {
  try {
    const list = (await api.get("/library/folders")).data;
    clear(box, list.length ? list.map(folderCard) : empty("No media folders are configured."));
  } catch (err) {
    clear(box, errorView(err, () => loadFolders(box)));
  }
}

function folderCard(f) {
  const bad = f.unreadable || [];
  return h("article", { class: "card folder-card", "data-testid": "folder", dataset: { path: f.path } },
    h("div", { class: "service-head" }, h("h3", { class: "path" }, f.path),
      f.exists ? badge(`${f.media_count} item${f.media_count === 1 ? "" : "s"}`, "ok") : badge("missing", "danger")),
    f.exists ? null : h("p", { class: "small form-error" }, "This folder does not exist or cannot be opened by the server."),
    bad.length ? h("details", { class: "unreadable" },
      h("summary", {}, `${bad.length} file${bad.length === 1 ? "" : "s"} could not be read`),
      h("ul", {}, bad.map((u) => h("li", {}, h("span", { class: "path" }, u.path), h("span", { class: "muted small" }, ` — ${u.reason}`)))))
      : null);
}

// Follows one scan: socket events drive it (its progress, its end, a failure); when they stop arriving (the
// socket may be down) it asks GET /library/scans/{id} every 2 s until the scan has finished. Events and
// answers can cross (a small library finishes before the POST's answer arrives), so a state older than
// the one shown is ignored, and each scan's end is announced once.
const SCAN_RANK = { queued: 0, running: 1, completed: 2, failed: 2 };

function scanTracker(box, btn, onDone) {
  let current = null, started = null, lastEvent = 0, timer = null, stopped = false;
  const seen = new Set();  // scans seen queued or running here: their end is worth a toast
  const told = new Set();
  const active = (s) => !!s && (s.status === "queued" || s.status === "running");
  const older = (s) => current && current.id === s.id && (SCAN_RANK[s.status] < SCAN_RANK[current.status] ||
    (s.status === current.status && (s.processed ?? 0) < (current.processed ?? 0)));
  const show = (scan) => {
    if (stopped || older(scan)) return;
    current = current && current.id === scan.id ? { ...current, ...scan } : { ...scan };
    if (active(current)) seen.add(current.id);
    sessionStorage.setItem(SCAN_KEY, current.id);
    btn.disabled = active(current);
    clear(box, scanProgress(current));
    if (active(current)) poll(); else settle();
  };
  const settle = () => {
    clearTimeout(timer);
    const id = current.id;
    if (told.has(id) || !(seen.has(id) || started === id)) return;
    told.add(id);
    const failed = current.failed ? `, ${current.failed} unreadable` : "";
    if (current.status === "completed") toast(`Scan finished: ${current.added} added, ${current.updated} updated, ${current.removed} removed${failed}.`, "success");
    else toast(`The scan failed${current.error ? ": " + current.error : "."}`, "error");
    onDone();
  };
  const poll = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (stopped || !active(current)) return;
      if (Date.now() - lastEvent < POLL_MS) { poll(); return; }  // events are flowing
      try { show((await api.get(`/library/scans/${enc(current.id)}`)).data); } catch { if (!stopped) poll(); }
    }, POLL_MS);
  };
  const off = socket.on("library:scan-progress", (p) => {
    if (!p?.id || (current && p.id !== current.id && active(current))) return;  // one scan runs at a time
    lastEvent = Date.now();
    show(p);
  });
  return {
    async start() {
      btn.disabled = true;
      try {
        const scan = (await api.post("/library/scans")).data;  // joins a running scan if there is one
        started = scan.id;
        show(scan);
        if (current?.id === scan.id && !active(current)) settle();  // it ended before this answer came
      } catch (err) {
        btn.disabled = active(current);
        showError(err);
      }
    },
    // The last scan this tab started, so coming back to the page shows it (the API has no "latest").
    async resume() {
      const id = sessionStorage.getItem(SCAN_KEY);
      if (!id) return;
      try { show((await api.get(`/library/scans/${enc(id)}`)).data); } catch { sessionStorage.removeItem(SCAN_KEY); }
    },
    stop() { stopped = true; clearTimeout(timer); off(); },
  };
}

function scanPercent(s) {
  if (s.status === "completed") return 100;
  return s.total > 0 ? Math.min(100, Math.round((s.processed / s.total) * 1000) / 10) : 0;
}

function scanProgress(s) {
  const pct = scanPercent(s);
  const active = s.status === "queued" || s.status === "running";
  const bar = h("progress", { max: 100, "aria-label": "Scan progress" });
  if (!(active && !s.total)) bar.value = pct;  // no value: an indeterminate bar while files are counted
  const counts = [["added", s.added], ["updated", s.updated], ["removed", s.removed], ["failed", s.failed]];
  return h("div", { class: `card scan-progress scan-${s.status}`, "data-testid": "scan-progress",
    dataset: { percent: String(pct), status: s.status, scanId: s.id } },
  h("div", { class: "service-head" }, h("strong", {}, scanHeading(s)), h("span", { class: "spacer" }),
    h("span", { class: "muted small" }, s.total ? `${s.processed ?? 0} / ${s.total} files · ${pct}%` : "")),
  bar,
  h("div", { class: "scan-counts small" }, counts.map(([k, n]) => h("span", { dataset: { count: k } },
    h("strong", {}, String(n ?? 0)), ` ${k}`))),
  s.error ? h("p", { class: "form-error small" }, s.error) : null);
}

function scanHeading(s) {
  if (s.status === "queued") return "Scan queued…";
  if (s.status === "running") return s.total ? "Scanning…" : "Looking for files…";
  if (s.status === "completed") return `Scan finished${s.finished_at ? " " + fmtAgo(s.finished_at) : ""}`;
  return "Scan failed";
}

// ---------------------------------------------------------------------------------------------------
// Audit log

async function drawAudit(body, query) {
  const f = { action: query.get("action") || "", actor: query.get("actor") || "", since: query.get("since") || "" };
  let page = Math.max(1, Number(query.get("page")) || 1);
  const list = h("div", { "data-testid": "audit-list" });
  const actor = h("select", { name: "actor", "aria-label": "Actor" }, h("option", { value: "" }, "Anyone"));
  const action = h("input", { name: "action", value: f.action, placeholder: "Action (e.g. user. or auth.login)",
    "aria-label": "Action", list: "audit-actions", maxlength: 64, autocomplete: "off" });
  const since = h("input", { type: "date", name: "since", value: f.since });
  const form = h("form", { class: "toolbar audit-filters", role: "search" },
    action, h("datalist", { id: "audit-actions" }, AUDIT_ACTIONS.map((a) => h("option", { value: a }))),
    actor, h("label", { class: "inline-field small" }, "Since", since),
    h("button", { class: "btn", type: "submit" }, "Filter"),
    h("button", { class: "btn ghost", type: "button", onclick: () => apply(true) }, "Clear"));
  const load = async () => {
    syncAddress(f, page);
    try {
      const r = await api.get("/audit", { page, per_page: 50, action: f.action, actor_id: f.actor, since: sinceIso(f.since) });
      clear(list, r.data.length ? auditTable(r.data) : empty(anyAuditFilter(f) ? "No events match these filters." : "Nothing recorded yet."),
        pager(r.meta, (p) => { page = p; load(); }));
    } catch (err) {
      clear(list, errorView(err, load));
    }
  };
  const apply = (reset) => {
    if (reset) { action.value = ""; actor.value = ""; since.value = ""; }
    Object.assign(f, { action: action.value.trim(), actor: actor.value, since: since.value });
    page = 1;
    load();
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); apply(false); });
  body.append(form, list);
  await Promise.all([fillActors(actor, f.actor), load()]);
}

async function fillActors(select, selected) {
  try {
    const users = await fetchAll("/users");
    select.append(...users.map((u) => h("option", { value: u.id, selected: u.id === selected }, u.username)));
  } catch { /* the filter still offers "Anyone" */ }
  if (selected && !select.value) select.append(h("option", { value: selected, selected: true }, `user ${selected}`));
}

function syncAddress(f, page) {
  const q = new URLSearchParams(Object.entries({ ...f, page: page > 1 ? page : "" }).filter(([, v]) => v));
  history.replaceState(null, "", `#/admin/audit${q.toString() ? "?" + q : ""}`);
}

// A <input type=date> is a local day: send its local midnight as an ISO instant.
function sinceIso(day) {
  if (!day) return "";
  const d = new Date(`${day}T00:00:00`);
  return isNaN(d) ? "" : d.toISOString();
}

function anyAuditFilter(f) {
  return !!(f.action || f.actor || f.since);
}

function auditTable(events) {
  return table(["When", "Who", "Action", "Target", "IP", "Details"], events.map((e) => {
    const details = Object.keys(e.details || {}).length ? JSON.stringify(e.details) : "";
    return h("tr", { "data-testid": "audit-row", dataset: { action: e.action } },
      h("td", { class: "nowrap", title: e.request_id ? `Request id: ${e.request_id}` : null }, fmtDate(e.at)),
      h("td", {}, e.actor_name || h("span", { class: "muted" }, "system")),
      h("td", {}, h("code", {}, e.action)),
      h("td", {}, e.target || ""),
      h("td", { class: "nowrap", title: e.user_agent || null }, e.ip || ""),
      h("td", { class: "details" }, details ? h("code", { title: details }, details) : ""));
  }));
}
