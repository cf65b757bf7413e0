// Who the console acts as: a bearer token kept in sessionStorage for this tab only.
//
// Ways in: `/#token=<JWT>` (the link `voice-mcp serve` prints; removed from the address bar at
// once), a same-origin `window.postMessage({type: "voice-mcp:token", token})` from the page that
// opened the console (a front-end's own sign-in), or pasting one by hand.

const KEY = "voice-mcp-token";
const listeners = new Set();

export function token() { return sessionStorage.getItem(KEY) || ""; }

export function setToken(value) {
  const clean = (value || "").trim();
  if (clean) sessionStorage.setItem(KEY, clean); else sessionStorage.removeItem(KEY);
  for (const listener of listeners) listener(clean);
}

export function onTokenChange(listener) { listeners.add(listener); }

/** The `sub` claim, for display only (the server verifies the signature). */
export function subject() {
  try {
    const part = token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part));
    return typeof claims.sub === "string" ? claims.sub : "";
  } catch { return ""; }
}

/** Take a token from the fragment, then scrub it from the address bar and the history entry. */
export function takeTokenFromLocation() {
  const params = new URLSearchParams(location.hash.slice(1));
  const value = params.get("token");
  if (value === null) return;
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  setToken(value);
}

/** Accept a token posted by a same-origin page (the front-end that opened the console). */
export function listenForPostedToken() {
  window.addEventListener("message", (event) => {
    if (event.origin !== location.origin) return;
    const data = event.data;
    if (data && data.type === "voice-mcp:token" && typeof data.token === "string") setToken(data.token);
  });
}
