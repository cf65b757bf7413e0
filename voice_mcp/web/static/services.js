// The services panel: each catalog service with its state, Connect (OAuth in a new tab) and
// Disconnect; refreshed when the person comes back to this tab. A sign-in ends back here at
// `/#service=<id>&grant=<handle>` (or `&error=<code>`): the panel completes the grant itself
// with this tab's token (POST /api/services/{id}/grant, docs/oauth.md).

import { apiFetch, getJson } from "./api.js";
import { token } from "./auth.js";

const SIGN_IN_ERRORS = {
  oauth_denied: "access was not granted",
  browser_mismatch: "it was started in another browser; connect again from this one",
  issuer_mismatch: "the answer did not come from the service's own sign-in server",
  state_expired: "it took too long; connect again",
  invalid_state: "the sign-in link was invalid or already used; connect again",
};
import { $, h } from "./dom.js";

export class ServicesPanel {
  constructor(onChange) {
    this.list = $("services");
    this.note = $("services-note");
    this.titles = new Map();
    this.onChange = onChange;
    this.loading = null;
    this.pendingGrant = null;
    const refreshSoon = () => { if (document.visibilityState === "visible") this.refresh(); };
    window.addEventListener("focus", refreshSoon);
    document.addEventListener("visibilitychange", refreshSoon);
  }

  title(id) { return this.titles.get(id) || id; }

  refresh() {
    if (!this.loading) this.loading = this.load().finally(() => { this.loading = null; });
    return this.loading;
  }

  async load() {
    let services;
    try {
      services = (await getJson("/api/services")).services || [];
    } catch (err) {
      this.note.textContent = err.message;
      return;
    }
    this.list.replaceChildren(...services.map((s) => this.item(s)));
    if (!services.length) this.note.textContent = "No services are configured on this server.";
    this.onChange();
  }

  item(service) {
    this.titles.set(service.id, service.title || service.id);
    const nameId = `service-${service.id}`;
    const li = h("li", { attrs: { "data-service": service.id } },
      h("span", { class: "name", text: service.title || service.id, attrs: { id: nameId } }));
    const [label, klass] = service.auth === "oauth"
      ? (service.needsReauth ? ["Needs re-auth", "reauth"]
        : service.connected ? ["Connected", "connected"] : ["Not connected", "none"])
      : [service.connected === false ? "Not connected" : "Ready", service.connected === false ? "none" : "connected"];
    li.append(h("span", { class: `state ${klass}`, text: label }));
    if (service.auth === "oauth") {
      const connected = service.connected && !service.needsReauth;
      const button = h("button", { text: connected ? "Disconnect" : "Connect",
        attrs: { type: "button", "aria-describedby": nameId } });
      button.addEventListener("click", () => (connected ? this.disconnect(service, button) : this.connect(service, button)));
      li.append(button);
    }
    return li;
  }

  async connect(service, button) {
    button.disabled = true;
    try {
      const { authorizationUrl } = await (await apiFetch(`/api/services/${encodeURIComponent(service.id)}/connect`, { method: "POST" })).json();
      const opened = window.open(authorizationUrl, "_blank");
      if (opened) {
        opened.opener = null;
        this.note.textContent = `Finish signing in to ${service.title || service.id} in the new tab, then come back here.`;
      } else {
        const link = h("a", { text: `Open the ${service.title || service.id} sign-in page`,
          attrs: { href: authorizationUrl, target: "_blank", rel: "noopener noreferrer" } });
        this.note.replaceChildren(link);
      }
    } catch (err) {
      this.note.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  }

  /** Take `service` and `grant` (or `error`) from the address bar, scrub them, finish. */
  async completeFromLocation() {
    const params = new URLSearchParams(location.hash.slice(1));
    const id = params.get("service");
    const grant = params.get("grant");
    const error = params.get("error");
    if (grant === null && error === null) return;
    for (const name of ["service", "grant", "error"]) params.delete(name);
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
    if (error !== null) {
      this.note.textContent = `Connecting ${this.title(id || "the service")} failed: ${SIGN_IN_ERRORS[error] || error}.`;
      return;
    }
    this.pendingGrant = { id, grant };
    if (token()) await this.redeemPending();
  }

  /** Hand the waiting grant to the server with this tab's token (another user's is refused). */
  async redeemPending() {
    const pending = this.pendingGrant;
    this.pendingGrant = null;
    if (!pending || !pending.id) return;
    try {
      await apiFetch(`/api/services/${encodeURIComponent(pending.id)}/grant`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ grant: pending.grant }),
      });
      await this.refresh();
      this.note.textContent = `${this.title(pending.id)} connected.`;
    } catch (err) {
      this.note.textContent = `Connecting ${this.title(pending.id)} failed: ${err.message}`;
    }
  }

  async disconnect(service, button) {
    button.disabled = true;
    try {
      await apiFetch(`/api/services/${encodeURIComponent(service.id)}`, { method: "DELETE" });
      this.note.textContent = `${service.title || service.id} disconnected.`;
    } catch (err) {
      this.note.textContent = err.message;
    }
    await this.refresh();
  }
}
