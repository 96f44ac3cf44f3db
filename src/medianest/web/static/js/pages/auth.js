// First-run setup (the admin account) and sign-in: username and password, or "Sign in with Plex" (a PIN
// approved at plex.tv in a new window, polled here until it is authorized or expires).
import { api, setSession } from "../api.js";
import { errorText, h, setTitle } from "../ui.js";

const PLEX_POLL_MS = 2000;

export async function render(root, params) {
  let required = false;
  try { required = (await api.get("/auth/setup")).data.required; }
  catch (err) { root.append(box("MediaNest", h("p", { class: "form-error", role: "alert" }, errorText(err)))); return; }
  if (params.variant === "setup" && !required) { location.replace("#/login"); return; }
  if (params.variant === "login" && required) { location.replace("#/setup"); return; }
  return required ? setup(root) : login(root);
}

function box(title, ...children) {
  return h("div", { class: "auth-box" },
    h("div", { class: "auth-brand" }, h("img", { src: "/static/icon.svg", alt: "" }), h("span", {}, "MediaNest")),
    h("h1", {}, title), ...children);
}

function form(submitLabel, fields, onSubmit) {
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "form-error", hidden: true });
  const button = h("button", { type: "submit", class: "btn primary wide" }, submitLabel);
  const el = h("form", { class: "auth-form", novalidate: false }, fields, error, button);
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try { await onSubmit(Object.fromEntries(new FormData(el).entries())); }
    catch (err) { error.textContent = errorText(err); error.hidden = false; }
    finally { button.disabled = false; }
  });
  return el;
}

const field = (label, attrs) => h("label", { class: "field" }, label, h("input", { required: true, ...attrs }));

function signedIn(pair) {
  setSession(pair);
  location.replace("#/library");
}

function setup(root) {
  setTitle("Welcome");
  root.append(box("Welcome to MediaNest",
    h("p", { class: "muted" }, "Create the administrator account. You can add more people later."),
    form("Create account", [
      field("Username", { name: "username", autocomplete: "username", maxlength: 64, autofocus: true }),
      field("Password", { name: "password", type: "password", autocomplete: "new-password", minlength: 8 }),
      field("Repeat password", { name: "again", type: "password", autocomplete: "new-password", minlength: 8 }),
    ], async (v) => {
      if (v.password !== v.again) throw new Error("The two passwords differ.");
      signedIn((await api.post("/auth/setup", { username: v.username.trim(), password: v.password })).data);
    })));
}

function login(root) {
  setTitle("Sign in");
  const plexStatus = h("p", { class: "muted small", "data-testid": "plex-status", role: "status" });
  let stopped = false;
  const plexButton = h("button", { type: "button", class: "btn plex wide", "data-testid": "plex-sign-in" }, "Sign in with Plex");
  plexButton.addEventListener("click", () => plexSignIn(plexButton, plexStatus, () => stopped));
  root.append(box("Sign in",
    form("Sign in", [
      field("Username", { name: "username", autocomplete: "username", autofocus: true }),
      field("Password", { name: "password", type: "password", autocomplete: "current-password" }),
    ], async (v) => signedIn((await api.post("/auth/login", { username: v.username.trim(), password: v.password })).data)),
    h("div", { class: "or" }, h("span", {}, "or")),
    plexButton, plexStatus));
  return () => { stopped = true; };
}

async function plexSignIn(button, status, stopped) {
  button.disabled = true;
  // Open the window now, inside the click, so pop-up blockers allow it; its address comes once the PIN exists.
  const win = window.open("", "plex-sign-in", "width=600,height=700");
  try {
    const pin = (await api.post("/auth/plex/pins")).data;
    if (win) win.location.href = pin.auth_url;
    status.replaceChildren("Approve the sign-in in the Plex window (code ", h("strong", {}, pin.code), "). ",
      h("a", { href: pin.auth_url, target: "_blank", rel: "noopener" }, "Open it again"));
    while (!stopped()) {
      await new Promise((r) => setTimeout(r, PLEX_POLL_MS));
      const state = (await api.get(`/auth/plex/pins/${pin.id}`)).data;
      if (state.status === "authorized") { win?.close(); signedIn(state); return; }
      if (state.status === "expired") { status.textContent = "The Plex sign-in expired. Try again."; break; }
    }
  } catch (err) {
    win?.close();
    status.textContent = errorText(err);
  } finally {
    button.disabled = false;
  }
}
