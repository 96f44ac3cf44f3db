// Boot, the app shell (navigation, header, player bar) and the hash router. Pages are modules under
// pages/ exporting `render(root, params, query)`; what it returns (a function) runs when the page is left.
import { api, currentUser, isAdmin, onSessionChange, signOut } from "./api.js";
import { icon } from "./icons.js";
import * as player from "./player.js";
import * as socket from "./socket.js";
import { clear, closeMenus, dialog, errorView, h, setTitle, toast } from "./ui.js";

const ROUTES = [
  ["/setup", () => import("./pages/auth.js"), "setup", { public: true }],
  ["/login", () => import("./pages/auth.js"), "login", { public: true }],
  ["/library", () => import("./pages/library.js")],
  ["/watch/:id", () => import("./pages/watch.js")],
  ["/me/:list", () => import("./pages/mine.js")],
  ["/playlists", () => import("./pages/playlists.js"), "list"],
  ["/playlists/:id", () => import("./pages/playlists.js"), "detail"],
  ["/downloads", () => import("./pages/downloads.js")],
  ["/subscriptions", () => import("./pages/subscriptions.js")],
  ["/requests", () => import("./pages/requests.js")],
  ["/status", () => import("./pages/status.js")],
  ["/account", () => import("./pages/account.js")],
  ["/admin/:section", () => import("./pages/admin.js"), null, { admin: true }],
];

const NAV = [
  ["Library", [["#/library", "Everything", "library"], ["#/library?kind=audio", "Music", "headphones"], ["#/library?kind=video", "Videos", "film"],
    ["#/library?genre=Podcast&sort=uploaded_at", "Podcasts", "podcast"]]],
  ["Yours", [["#/me/favorites", "Liked", "heart"], ["#/me/recent", "Recently played", "clock"], ["#/me/frequent", "Most played", "chart"],
    ["#/me/history", "History", "history"], ["#/playlists", "Playlists", "playlist"]]],
  ["Get more", [["#/downloads", "Downloads", "download"], ["#/subscriptions", "Subscriptions", "rss"],
    ["#/requests", "Requests", "ticket", "requests"]]],
  ["Server", [["#/status", "Status", "signal", "status"], ["#/admin/users", "Users", "users", "admin"], ["#/admin/services", "Services", "plug", "admin"],
    ["#/admin/library", "Library scan", "folder", "admin"], ["#/admin/audit", "Audit log", "audit", "admin"]]],
];

const shell = { root: null, main: null, nav: null, user: null };
let leave = null;
let features = { requests: false, status: false };
let renderSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/library";
  const [path, qs] = raw.split("?");
  return { path: path || "/library", query: new URLSearchParams(qs || "") };
}

// A hand-typed address like #/watch/%E0 must give "not found" from the API, not an exception here.
function safeDecode(part) {
  try { return decodeURIComponent(part); } catch { return part; }
}

function match(path) {
  for (const [pattern, load, variant, opts] of ROUTES) {
    const keys = [];
    const re = new RegExp("^" + pattern.replace(/:(\w+)/g, (_, k) => { keys.push(k); return "([^/]+)"; }) + "/?$");
    const m = path.match(re);
    if (m) {
      const params = Object.fromEntries(keys.map((k, i) => [k, safeDecode(m[i + 1])]));
      if (variant) params.variant = variant;
      return { load, params, opts: opts || {} };
    }
  }
  return null;
}

async function route() {
  closeMenus();
  const seq = ++renderSeq;
  const { path, query } = parseHash();
  const found = match(path);
  if (!currentUser() && !found?.opts.public) { location.replace("#/login"); return; }
  if (currentUser() && found?.opts.public) { location.replace("#/library"); return; }
  if (typeof leave === "function") { try { leave(); } catch { /* a page's cleanup must not block the next */ } }
  leave = null;
  const main = found?.opts.public ? ensureBare() : ensureShell();
  markNav();
  const search = document.querySelector("[data-testid=global-search]");
  if (search && path !== "/library") search.value = "";  // the box shows the library's query, not an old one
  if (!found) { clear(main, h("div", { class: "empty" }, h("h2", {}, "Page not found"), h("a", { href: "#/library" }, "Back to the library"))); return; }
  if (found.opts.admin && !isAdmin()) { clear(main, errorView({ message: "This page is for administrators." })); return; }
  main.setAttribute("aria-busy", "true");
  try {
    const mod = await found.load();
    if (seq !== renderSeq) return;
    clear(main);
    const cleanup = await mod.render(main, found.params, query);
    if (seq !== renderSeq) { if (typeof cleanup === "function") cleanup(); return; }
    leave = cleanup;
  } catch (err) {
    if (seq !== renderSeq) return;
    console.warn("page failed", err);
    clear(main, errorView(err, () => route()));
  } finally {
    main.removeAttribute("aria-busy");
    if (seq === renderSeq) main.focus({ preventScroll: true });
  }
}

function ensureBare() {
  if (shell.root) { shell.root.remove(); shell.root = null; }
  const app = document.getElementById("app");
  app.removeAttribute("aria-busy");
  app.classList.remove("with-shell");
  let bare = app.querySelector(".bare");
  if (!bare) { bare = h("main", { class: "bare", tabindex: -1 }); clear(app, bare); }
  return bare;
}

function ensureShell() {
  if (shell.root) return shell.main;
  const app = document.getElementById("app");
  app.removeAttribute("aria-busy");
  app.classList.add("with-shell");
  shell.nav = h("nav", { class: "sidebar", "data-testid": "nav", "aria-label": "Main" });
  shell.main = h("main", { class: "content", id: "content", tabindex: -1 });
  const search = h("input", { type: "search", class: "global-search", placeholder: PLACEHOLDERS[0],
    "aria-label": "Search the library", "data-testid": "global-search" });
  new ResizeObserver(() => fitPlaceholder(search)).observe(search);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") location.hash = `#/library?q=${encodeURIComponent(search.value.trim())}`;
  });
  search.addEventListener("input", () => {
    // Search as you type: the library page listens for this and filters live.
    if (parseHash().path === "/library") window.dispatchEvent(new CustomEvent("medianest:search", { detail: search.value }));
    else if (search.value.trim().length >= 2) location.hash = `#/library?q=${encodeURIComponent(search.value.trim())}`;
  });
  shell.user = h("div", { class: "user-box" });
  const header = h("header", { class: "topbar" },
    h("button", { class: "icon-btn menu-toggle", "aria-label": "Menu", onclick: () => document.body.classList.toggle("nav-open") }, icon("menu")),
    h("a", { class: "brand", href: "#/library" }, h("img", { src: "/static/icon.svg", alt: "" }), h("span", {}, "MediaNest")),
    search,
    h("button", { class: "icon-btn", title: "Light or dark theme", "aria-label": "Toggle theme", "data-testid": "theme-toggle",
      onclick: toggleTheme }, icon("theme")),
    shell.user);
  shell.root = h("div", { class: "shell" }, header, shell.nav, shell.main);
  const bottom = h("div", { class: "bottom" });
  clear(app, shell.root, bottom);
  player.mountBar(bottom);
  renderNav();
  renderUser();
  socket.connect();
  loadFeatures();
  return shell.main;
}

// The search box's placeholder: the longest wording that fits the box as it is drawn (a phone's is narrow).
const PLACEHOLDERS = ["Search your library  ( / )", "Search your library", "Search library", "Search"];
let measure = null;

function fitPlaceholder(input) {
  const s = getComputedStyle(input);
  measure ??= document.createElement("canvas").getContext("2d");
  measure.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
  const room = input.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  input.placeholder = PLACEHOLDERS.find((p) => measure.measureText(p).width <= room) ?? PLACEHOLDERS.at(-1);
}

function renderNav() {
  const allowed = (need) => !need || (need === "admin" ? isAdmin() : need === "requests" ? features.requests : need === "status" ? features.status : true);
  clear(shell.nav, NAV.map(([title, links]) => {
    const shown = links.filter(([, , , need]) => allowed(need));
    if (!shown.length) return null;
    return h("div", { class: "nav-group" }, h("div", { class: "nav-title" }, title),
      shown.map(([href, label, glyph]) => h("a", { href, class: "nav-link", onclick: () => document.body.classList.remove("nav-open") },
        h("span", { class: "nav-icon", "aria-hidden": "true" }, icon(glyph)), label)));
  }));
  markNav();
}

function markNav() {
  if (!shell.nav) return;
  let here = location.hash || "#/library";
  if (here.startsWith("#/library")) {
    // Search and filters keep you in Music, Videos or Podcasts: only the kind (or the Podcast genre) picks the link.
    const params = new URLSearchParams(here.split("?")[1] || "");
    const kind = params.get("kind");
    here = params.get("genre") === "Podcast" ? "#/library?genre=Podcast&sort=uploaded_at" : kind ? `#/library?kind=${kind}` : "#/library";
  }
  const links = [...shell.nav.querySelectorAll("a")];
  links.forEach((a) => a.removeAttribute("aria-current"));
  const href = (a) => a.getAttribute("href");
  const exact = links.find((a) => href(a) === here);
  const prefix = links.filter((a) => !href(a).includes("?") && here.split("?")[0].startsWith(href(a)))
    .sort((a, b) => href(b).length - href(a).length)[0];
  (exact || prefix)?.setAttribute("aria-current", "page");
}

function renderUser() {
  const user = currentUser();
  if (!shell.user || !user) return;
  const btn = h("button", { class: "user-btn", "data-testid": "user-menu", "aria-label": `Account: ${user.username}` },
    h("span", { class: "avatar" }, [...user.username][0].toUpperCase()), h("span", { class: "hide-phone" }, user.username));
  btn.addEventListener("click", (e) => {
    e.stopPropagation();
    import("./ui.js").then(({ menu }) => menu(btn, [
      { label: "Account and API keys", action: () => { location.hash = "#/account"; } },
      { label: "Keyboard shortcuts", action: showShortcuts },
      { label: "Sign out", action: () => doSignOut() },
    ]));
  });
  clear(shell.user, btn);
}

async function doSignOut() {
  await player.finish();  // the resume point is saved while the session is still valid
  await signOut();
}

async function loadFeatures() {
  // Requests and the status board appear only when the server has such connections.
  try {
    const board = (await api.get("/services/status")).data;
    features = { status: board.length > 0, requests: board.some((s) => s.kind === "seerr") };
  } catch { features = { requests: false, status: false }; }
  renderNav();
}

export function refreshFeatures() { loadFeatures(); }

function showShortcuts() {
  dialog("Keyboard shortcuts", h("table", { class: "table" },
    player.SHORTCUTS.map(([k, what]) => h("tr", {}, h("th", {}, h("kbd", {}, k)), h("td", {}, what)))), { submit: null, cancel: "Close" });
}

function toggleTheme() {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem("medianest.theme", next);
}

function initTheme() {
  const saved = localStorage.getItem("medianest.theme");
  const prefersLight = window.matchMedia?.("(prefers-color-scheme: light)").matches;
  document.documentElement.dataset.theme = saved || (prefersLight ? "light" : "dark");
}

onSessionChange((user) => {
  if (!user) {
    socket.disconnect();
    player.reset();
    shell.root?.remove(); shell.root = null;
    location.hash = "#/login";
    route();
  } else renderUser();
});

// A picture that fails to load (a poster host that is down, a thumbnail gone) leaves its tile's colour,
// not the browser's broken-image icon.
document.addEventListener("error", (e) => {
  if (e.target instanceof HTMLImageElement) e.target.classList.add("img-failed");
}, true);
window.addEventListener("hashchange", route);
window.addEventListener("medianest:address", markNav);
window.addEventListener("unhandledrejection", (e) => {
  // A failed background call must surface as words, not as a silent console entry.
  e.preventDefault();
  toast(e.reason?.message || "Something went wrong.", "error");
});

initTheme();
player.installShortcuts({
  "/": () => document.querySelector("[data-testid=global-search]")?.focus(),
  "?": showShortcuts,
});
route();
