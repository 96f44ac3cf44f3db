// DOM helpers shared by every page: an element builder, toasts, dialogs, menus and formatting.
// Text always goes in as text nodes (never innerHTML), so titles from the internet cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" || k === "checked" || k === "selected") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function toast(message, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

// Turn any failure into words for a person: the API's message, never a stack trace.
export function errorText(err) {
  if (err && typeof err.describe === "function") return err.describe();
  return (err && err.message) || "Something went wrong.";
}

export function showError(err) {
  toast(errorText(err), "error", 6000);
}

export function errorView(err, retry) {
  return h("div", { class: "error-view", role: "alert" },
    h("h2", {}, "This page could not be loaded"),
    h("p", {}, errorText(err)),
    err?.requestId ? h("p", { class: "muted small" }, `Request id: ${err.requestId}`) : null,
    retry ? h("button", { class: "btn", onclick: retry }, "Try again") : null);
}

export function empty(text, ...extra) {
  return h("div", { class: "empty" }, h("p", {}, text), ...extra);
}

export function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–:––";
  s = Math.max(0, Math.floor(s));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i && n < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleString();
}

export function fmtAgo(iso) {
  if (!iso) return "never";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

// A modal built on <dialog>; resolves with the submitted form's values, or null when dismissed.
export function dialog(title, body, { submit = "OK", danger = false, cancel = "Cancel" } = {}) {
  return new Promise((resolve) => {
    const form = h("form", { method: "dialog", class: "dialog-form" },
      h("h2", {}, title), body,
      h("div", { class: "dialog-actions" },
        cancel ? h("button", { type: "button", class: "btn ghost", value: "cancel", onclick: () => dlg.close("cancel") }, cancel) : null,
        submit ? h("button", { type: "submit", class: danger ? "btn danger" : "btn primary", value: "ok" }, submit) : null));
    const dlg = h("dialog", { class: "dialog" }, form);
    let values = null;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      values = Object.fromEntries(new FormData(form).entries());
      dlg.close("ok");
    });
    dlg.addEventListener("close", () => { dlg.remove(); resolve(dlg.returnValue === "ok" ? values : null); });
    document.body.append(dlg);
    dlg.showModal();
    form.querySelector("input, select, textarea")?.focus();
  });
}

export async function prompt(title, label, value = "", { submit = "Save", maxlength = 200 } = {}) {
  const values = await dialog(title, h("label", { class: "field" }, label,
    h("input", { name: "value", value, required: true, maxlength, autocomplete: "off" })), { submit });
  return values ? values.value.trim() : null;
}

export async function confirm(title, text, submit = "Delete") {
  return (await dialog(title, h("p", {}, text), { submit, danger: true })) !== null;
}

// A small popup menu next to `anchor`: items are {label, action}, {label, note: true} (words that do
// nothing, read first: why the item cannot be played) or null (skipped).
export function menu(anchor, items) {
  closeMenus();
  const list = h("div", { class: "menu", role: "menu" },
    items.filter(Boolean).map((it) => it.note
      ? h("button", { class: "menu-item menu-note", role: "menuitem", type: "button", "aria-disabled": "true",
        "data-testid": "menu-note" }, it.label)
      : h("button", { class: "menu-item", role: "menuitem", type: "button",
        onclick: (e) => { e.stopPropagation(); closeMenus(); it.action(); } }, it.label)));
  document.body.append(list);
  const r = anchor.getBoundingClientRect();
  const top = Math.min(r.bottom + 4, window.innerHeight - list.offsetHeight - 8);
  const left = Math.min(Math.max(8, r.right - list.offsetWidth), window.innerWidth - list.offsetWidth - 8);
  list.style.top = `${Math.max(8, top)}px`;
  list.style.left = `${left}px`;
  list.querySelector("button")?.focus();
  setTimeout(() => document.addEventListener("click", closeMenus, { once: true }));
}

export function closeMenus() {
  document.querySelectorAll(".menu").forEach((m) => m.remove());
}

// Cover art, or a coloured tile with the initials when the item has none (no request that would 404).
export function art(item, cls = "art") {
  if (item?.artwork_url) return h("img", { class: cls, src: item.artwork_url, alt: "", loading: "lazy" });
  const name = item?.title || "?";
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]).join("").toUpperCase();
  return h("div", { class: `${cls} art-placeholder`, style: `--hue:${hash % 360}`, "aria-hidden": "true" },
    initials || "?");
}

export function setTitle(text) {
  document.title = text ? `${text} · MediaNest` : "MediaNest";
}
