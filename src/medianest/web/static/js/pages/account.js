// The signed-in person's account: who they are, their Subsonic password (for Subsonic apps; a generated
// one is shown once), their API keys (the key itself is shown once, at creation), their signed-in
// sessions, and signing out. The API has no self-service change of the login password (an administrator
// sets passwords under Users), so there is no form for it here.
import { api, currentUser, signOut } from "../api.js";
import { clear, confirm, dialog, empty, errorView, fmtAgo, fmtDate, h, prompt, setTitle, showError, toast } from "../ui.js";

const enc = encodeURIComponent;

export async function render(root) {
  setTitle("Account");
  const info = h("section", { class: "card account-info", "data-testid": "account-info" });
  const subsonic = section("Subsonic apps", "subsonic",
    "For music apps that speak Subsonic (Symfonium, DSub, Substreamer, Feishin and others): they sign in with " +
    "your username and a Subsonic password of their own, not your MediaNest password. Generate one, or choose " +
    "your own (8 to 128 characters).");
  const keys = section("API keys", "api-keys",
    "For scripts and other apps: send the key in the X-Api-Key header. It acts as you, with your role.");
  const sessions = section("Signed-in sessions", "sessions",
    "Each sign-in on a device or browser. Signing one out ends it once its current access token expires (minutes).");
  const out = h("button", { class: "btn danger", type: "button", "data-testid": "sign-out" }, "Sign out");
  out.addEventListener("click", async () => { out.disabled = true; await signOut(); });

  const loadKeys = () => loadInto(keys.body, () => api.get("/auth/api-keys"), (list) => keyTable(list, loadKeys));
  const loadSessions = () => loadInto(sessions.body, () => api.get("/auth/sessions"), (list) => sessionTable(list, loadSessions));
  keys.tools.append(h("button", { class: "btn primary", type: "button", "data-testid": "create-api-key",
    onclick: () => createKey(loadKeys) }, "New API key"));

  root.append(h("div", { class: "page-account" },
    h("div", { class: "page-head" }, h("h1", {}, "Account"), h("span", { class: "spacer" }), out),
    info, subsonic.el, keys.el, sessions.el));
  await Promise.all([loadInfo(info), loadSubsonic(subsonic), loadKeys(), loadSessions()]);
  return () => {};
}

function section(title, testid, help) {
  const tools = h("div", { class: "section-tools" });
  const body = h("div", { "data-testid": testid });
  const el = h("section", { class: "account-section" },
    h("div", { class: "section-head" }, h("h2", {}, title), h("span", { class: "spacer" }), tools),
    h("p", { class: "muted small" }, help), body);
  return { el, tools, body };
}

async function loadInto(box, get, draw) {
  try {
    clear(box, draw((await get()).data));
  } catch (err) {
    clear(box, errorView(err, () => loadInto(box, get, draw)));
  }
}

async function loadInfo(box) {
  let user = currentUser();
  try { user = (await api.get("/auth/me")).data; } catch { /* the stored copy is good enough to show */ }
  if (!user) return;
  const row = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
  clear(box, h("dl", { class: "facts" },
    row("Username", h("strong", { "data-testid": "account-username" }, user.username)),
    row("Role", user.role === "admin" ? "Administrator" : "User"),
    row("Status", user.status || "active"),
    user.created_at ? row("Member since", fmtDate(user.created_at)) : null,
    user.last_login_at ? row("Last sign-in", fmtDate(user.last_login_at)) : null),
  h("p", { class: "muted small" }, user.role === "admin"
    ? "To change a password, use Users (changing your own signs you out everywhere)."
    : "To change your password, ask an administrator."));
}

// ---------------------------------------------------------------------------------------------------
// Subsonic password: apart from the login password, because Subsonic's token sign-in needs the server to
// read it back. GET says only whether one is set; a generated one is shown once, in a dialog.

const SUBSONIC = "/auth/subsonic-password";

async function loadSubsonic(s) {
  const reload = () => loadSubsonic(s);
  const server = location.origin;
  const username = currentUser()?.username || "";
  try {
    const { set } = (await api.get(SUBSONIC)).data;
    const generate = h("button", { class: "btn primary", type: "button", "data-testid": "subsonic-generate" },
      set ? "Generate a new password" : "Generate password");
    generate.addEventListener("click", () => generatePassword(set, generate, { server, username }, reload));
    const remove = set ? h("button", { class: "btn small danger", type: "button", "data-testid": "subsonic-remove" }, "Remove") : null;
    remove?.addEventListener("click", () => removePassword(remove, reload));
    clear(s.tools, generate);
    const row = (label, ...value) => h("div", {}, h("dt", {}, label), h("dd", {}, ...value));
    clear(s.body, h("dl", { class: "facts" },
      row("Server address", h("code", { "data-testid": "subsonic-server" }, server)),
      row("Username", h("code", {}, username)),
      row("Subsonic password", h("span", { "data-testid": "subsonic-state" }, set ? "Set" : "Not set"), remove ? [" ", remove] : null)),
    ownPasswordForm(username, reload));
  } catch (err) {
    clear(s.tools);
    clear(s.body, errorView(err, reload));
  }
}

// Choosing one's own (8 to 128 characters). The hidden username lets a password manager file it under the
// right account.
function ownPasswordForm(username, reload) {
  const user = h("input", { type: "text", name: "username", value: username, autocomplete: "username", hidden: true });
  const input = h("input", { type: "password", name: "password", required: true, minlength: 8, maxlength: 128,
    autocomplete: "new-password", "aria-label": "Your own Subsonic password", "data-testid": "subsonic-own",
    placeholder: "Your own password" });
  const save = h("button", { class: "btn", type: "submit", "data-testid": "subsonic-save" }, "Set password");
  const form = h("form", { class: "toolbar", "data-testid": "subsonic-own-form" }, user, input, save);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    try {
      await api.post(SUBSONIC, { password: input.value });
      toast("Your Subsonic password was set.", "success");
      await reload();
    } catch (err) {
      save.disabled = false;
      showError(err);
    }
  });
  return form;
}

async function generatePassword(set, btn, where, reload) {
  if (set && !await confirm("Generate a new Subsonic password?",
    "The current one stops working: apps that use it must be given the new one.", "Generate")) return;
  btn.disabled = true;
  try {
    const { password } = (await api.post(SUBSONIC)).data;
    await reload();
    await showSubsonic({ ...where, password });
  } catch (err) {
    btn.disabled = false;
    showError(err);
  }
}

// What to type into the app, each with a copy button; the password is not shown again.
function showSubsonic({ server, username, password }) {
  const line = (label, value, testid) => {
    const input = h("input", { readonly: true, value, class: "secret-value", "aria-label": label,
      "data-testid": testid, spellcheck: "false", autocomplete: "off" });
    input.addEventListener("focus", () => input.select());
    const copy = h("button", { class: "btn", type: "button", "data-testid": `copy-${testid}` }, "Copy");
    copy.addEventListener("click", () => copyText(input, copy));
    return h("label", { class: "field" }, label, h("div", { class: "copy-row" }, input, copy));
  };
  return dialog("Your Subsonic password", h("div", { class: "form-grid key-reveal" },
    h("p", {}, "Type these into your Subsonic app. Copy the password now: it is not shown again."),
    line("Server address", server, "subsonic-server-value"),
    line("Username", username, "subsonic-username-value"),
    line("Password", password, "subsonic-password-value")), { submit: "Done", cancel: null });
}

async function removePassword(btn, reload) {
  if (!await confirm("Remove your Subsonic password?",
    "Subsonic apps that sign in with it stop working. Your MediaNest password and API keys are not affected.",
    "Remove")) return;
  btn.disabled = true;
  try {
    await api.del(SUBSONIC);
    toast("Your Subsonic password was removed.", "success");
    await reload();
  } catch (err) {
    btn.disabled = false;
    showError(err);
  }
}

// ---------------------------------------------------------------------------------------------------
// API keys

function keyTable(list, reload) {
  if (!list.length) return empty("No API keys yet.");
  return h("div", { class: "table-wrap" }, h("table", { class: "table" },
    h("thead", {}, h("tr", {}, ["Name", "Key", "Created", "Last used", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.map((k) => h("tr", { "data-testid": "api-key-row", dataset: { id: k.id } },
      h("td", {}, k.name),
      h("td", {}, h("code", {}, `${k.prefix}…`)),
      h("td", { class: "nowrap" }, fmtDate(k.created_at)),
      h("td", { class: "nowrap", title: fmtDate(k.last_used_at) || null }, k.last_used_at ? fmtAgo(k.last_used_at) : "never"),
      h("td", {}, h("button", { class: "btn small danger", type: "button", onclick: (e) => deleteKey(k, e.currentTarget, reload) }, "Delete")))))));
}

async function createKey(reload) {
  const name = await prompt("New API key", "A name to recognise it by", "", { submit: "Create", maxlength: 100 });
  if (!name) return;
  try {
    const made = (await api.post("/auth/api-keys", { name })).data;
    reload();
    await showKey(made);
  } catch (err) {
    showError(err);
  }
}

// The key appears only in the creation response: show it with a copy button, and say so.
function showKey(made) {
  const input = h("input", { readonly: true, value: made.key, class: "secret-value", "aria-label": "API key",
    "data-testid": "new-api-key", spellcheck: "false", autocomplete: "off" });
  input.addEventListener("focus", () => input.select());
  const copy = h("button", { class: "btn", type: "button", "data-testid": "copy-api-key" }, "Copy");
  copy.addEventListener("click", () => copyText(input, copy));
  return dialog(`API key “${made.name}”`, h("div", { class: "form-grid key-reveal" },
    h("p", {}, "Copy the key now: it is not shown again."),
    h("div", { class: "copy-row" }, input, copy)), { submit: "Done", cancel: null });
}

async function copyText(input, btn) {
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // No async clipboard (plain http on a LAN address is not a secure context): the old way.
    input.select();
    if (!document.execCommand?.("copy")) { toast("Select the text and copy it by hand.", "info"); return; }
  }
  btn.textContent = "Copied";
  setTimeout(() => { btn.textContent = "Copy"; }, 2000);
}

async function deleteKey(k, btn, reload) {
  if (!await confirm(`Delete the key “${k.name}”?`, "Anything that uses it stops working at once.")) return;
  btn.disabled = true;
  try {
    await api.del(`/auth/api-keys/${enc(k.id)}`);
    toast(`The key “${k.name}” was deleted.`, "success");
    await reload();
  } catch (err) {
    btn.disabled = false;
    showError(err);
  }
}

// ---------------------------------------------------------------------------------------------------
// Sessions

function sessionTable(list, reload) {
  if (!list.length) return empty("No signed-in sessions.");
  return h("div", { class: "table-wrap" }, h("table", { class: "table" },
    h("thead", {}, h("tr", {}, ["Device", "IP", "Signed in", "Last active", "Expires", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, list.map((s) => h("tr", { "data-testid": "session-row", dataset: { id: s.id } },
      h("td", { title: s.user_agent || null }, device(s.user_agent)),
      h("td", { class: "nowrap" }, s.ip || ""),
      h("td", { class: "nowrap" }, fmtDate(s.signed_in_at)),
      h("td", { class: "nowrap", title: fmtDate(s.last_active_at) }, fmtAgo(s.last_active_at)),
      h("td", { class: "nowrap" }, fmtDate(s.expires_at)),
      h("td", {}, h("button", { class: "btn small ghost", type: "button", onclick: (e) => revoke(s, e.currentTarget, reload) }, "Sign out")))))));
}

// A short "Firefox on Linux" from a user agent; the full string is in the cell's title.
function device(ua) {
  if (!ua) return "Unknown device";
  const browser = [["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"],
    ["curl/", "curl"], ["python", "Python"]].find(([needle]) => ua.includes(needle))?.[1];
  const os = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS", "macOS"],
    ["Linux", "Linux"]].find(([needle]) => ua.includes(needle))?.[1];
  if (!browser && !os) return ua.length > 40 ? ua.slice(0, 40) + "…" : ua;
  return [browser || "Browser", os].filter(Boolean).join(" on ");
}

async function revoke(s, btn, reload) {
  if (!await confirm("Sign this session out?", `${device(s.user_agent)}${s.ip ? " at " + s.ip : ""} must sign in again. ` +
    "If it is this browser, you are signed out here too.", "Sign out")) return;
  btn.disabled = true;
  try {
    await api.del(`/auth/sessions/${enc(s.id)}`);
    toast("The session was signed out.", "success");
    await reload();
  } catch (err) {
    btn.disabled = false;
    showError(err);
  }
}
