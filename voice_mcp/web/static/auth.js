// Who the console acts as: a bearer token kept in sessionStorage for this tab only.
//
// Ways in: `/#token=<JWT>` (the link `voice-mcp serve` prints; removed from the address bar at
// once; taken as is only when the tab is not signed in, else the user is asked), a same-origin `window.postMessage({type: "voice-mcp:token", token})` from the page that
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

/** The `sub` claim of a token, for display only (the server verifies the signature). */
export function subjectOf(value) {
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part));
    return typeof claims.sub === "string" ? claims.sub : "";
  } catch { return ""; }
}

export function subject() { return subjectOf(token()); }

/**
 * Take a token from the fragment, then scrub it from the address bar and the history entry.
 * A tab already signed in is never switched silently (a link from someone else would send
 * this user's commands and connections to their account): `askToSwitch(newToken)` decides.
 */
export function takeTokenFromLocation(askToSwitch) {
  const params = new URLSearchParams(location.hash.slice(1));
  const value = (params.get("token") || "").trim();
  if (!params.has("token")) return;
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  if (!value || value === token()) return;
  if (token()) askToSwitch(value); else setToken(value);
}

/** Accept a token posted by a same-origin page (the front-end that opened the console). */
export function listenForPostedToken() {
  window.addEventListener("message", (event) => {
    if (event.origin !== location.origin) return;
    const data = event.data;
    if (data && data.type === "voice-mcp:token" && typeof data.token === "string") setToken(data.token);
  });
}
