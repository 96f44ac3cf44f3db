// The API client: the contract's envelopes, typed errors, and the signed-in session (tokens in
// localStorage, refreshed once on a 401; other tabs' rotations are picked up from storage events so two
// tabs never replay the same refresh token, which would revoke the whole family).

const KEY = "medianest.session";
const PREFIX = "/api/v1";
let session = load();
let refreshing = null;
const listeners = new Set();

function load() {
  try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch { return null; }
}

window.addEventListener("storage", (e) => {
  if (e.key !== KEY) return;
  const before = session?.user?.id;
  session = load();
  if (session?.user?.id !== before) listeners.forEach((fn) => fn(session?.user ?? null));
});

export class ApiError extends Error {
  constructor(status, code, message, details = {}, requestId = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
    this.requestId = requestId;
  }
  // A readable sentence, naming the bad fields of a 422 ("password: String should have at least 8 characters").
  describe() {
    const fields = (this.details?.fields || [])
      .map((f) => `${String(f.field || "").split(".").pop()}: ${f.reason}`);
    return fields.length ? `Please check ${fields.join("; ")}` : this.message;
  }
}

export const currentUser = () => session?.user ?? null;
export const accessToken = () => session?.access_token ?? null;
export const isAdmin = () => session?.user?.role === "admin";

export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function setSession(pair) {
  session = pair ? { access_token: pair.access_token, refresh_token: pair.refresh_token, user: pair.user } : null;
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
  listeners.forEach((fn) => fn(session?.user ?? null));
}

export async function signOut() {
  const token = session?.refresh_token;
  setSession(null);
  if (token) await fetch(PREFIX + "/auth/logout", jsonInit("POST", { refresh_token: token })).catch(() => {});
}

function jsonInit(method, body, headers = {}) {
  return { method, headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) };
}

// Rotate the refresh token once, however many requests hit a 401 at the same moment.
export function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      const stored = load();  // another tab may have rotated already
      if (stored?.refresh_token && stored.refresh_token !== session?.refresh_token) {
        session = stored;
        return;
      }
      if (!session?.refresh_token) throw new ApiError(401, "UNAUTHORIZED", "Please sign in.");
      const r = await fetch(PREFIX + "/auth/refresh", jsonInit("POST", { refresh_token: session.refresh_token }));
      if (!r.ok) {
        setSession(null);
        throw new ApiError(401, "UNAUTHORIZED", "Your session has ended; please sign in again.");
      }
      setSession((await r.json()).data);
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

function query(params) {
  if (!params) return "";
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "" && v !== false) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

async function errorFrom(r) {
  let body = null;
  try { body = await r.json(); } catch { /* not JSON: a proxy's page, say */ }
  const e = body?.error;
  if (e) return new ApiError(r.status, e.code, e.message, e.details, e.request_id);
  const text = r.status >= 500 ? "The server had a problem; please try again." : `Request failed (${r.status}).`;
  return new ApiError(r.status, "HTTP_" + r.status, text);
}

// One API call. `body` is JSON unless `text` is given; `raw` returns the Response (for downloads).
export async function request(method, path, { params, body, text, raw, contentType } = {}) {
  const url = PREFIX + path + query(params);
  for (let attempt = 0; ; attempt++) {
    const headers = {};
    if (session?.access_token) headers.Authorization = "Bearer " + session.access_token;
    let payload;
    if (text !== undefined) { payload = text; headers["Content-Type"] = contentType || "text/plain"; }
    else if (body !== undefined) { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
    let r;
    try {
      r = await fetch(url, { method, headers, body: payload });
    } catch {
      throw new ApiError(0, "NETWORK", "Cannot reach the MediaNest server. Is it running?");
    }
    if (r.status === 401 && attempt === 0 && session?.refresh_token && !path.startsWith("/auth/")) {
      await refreshSession();
      continue;
    }
    if (!r.ok) throw await errorFrom(r);
    if (raw) return r;
    if (r.status === 204) return { data: null, meta: {} };
    return r.json();
  }
}

export const api = {
  get: (path, params) => request("GET", path, { params }),
  post: (path, body, params) => request("POST", path, { body, params }),
  put: (path, body) => request("PUT", path, { body }),
  patch: (path, body) => request("PATCH", path, { body }),
  del: (path, params) => request("DELETE", path, { params }),
};

// Fire-and-forget writes that must survive the page closing (progress on pagehide).
export function beacon(method, path, body) {
  if (!session?.access_token) return;
  fetch(PREFIX + path, { ...jsonInit(method, body, { Authorization: "Bearer " + session.access_token }),
    keepalive: true }).catch(() => {});
}
