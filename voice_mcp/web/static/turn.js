// One command in the conversation log: what was heard, each stage, the streamed answer, the
// approval card, the outcome and a waterfall of where the time went.

import { h, ms, readable } from "./dom.js";

const STATUS_WORDS = {
  completed: "Done",
  confirmation_required: "Waiting for your approval",
  clarification_needed: "Needs an answer from you",
  failed: "Failed",
  cancelled: "Cancelled",
  timeout: "Timed out",
};

const ERROR_WORDS = {
  instance_lost: "The server running this command stopped; please try again.",
  llm_not_configured: null, // the server's own message says what works offline
};

export class Turn {
  /** log: the role="log" element; said: the text typed, or null for speech still being sent. */
  constructor(log, said, via) {
    this.log = log;
    this.started = performance.now();
    this.el = h("article", { class: "turn", attrs: { "aria-label": "Command" } });
    this.saidEl = h("p", { class: said === null ? "said pending" : "said" });
    this.setSaid(said, via);
    this.stages = h("ol", { class: "stages", attrs: { "aria-label": "Stages" } });
    this.answer = h("div", { class: "answer" });
    this.el.append(this.saidEl, this.stages, this.answer);
    this.streamed = "";
    this.cards = new Map();
    this.clockSkew = 0;
    log.append(this.el);
    this.scroll();
  }

  scroll() { this.log.scrollTop = this.log.scrollHeight; }

  setSaid(text, via) {
    this.saidEl.replaceChildren();
    if (via) this.saidEl.append(h("span", { class: "via", text: via }));
    this.saidEl.append(document.createTextNode(text === null ? "Sending what you said…" : text));
    this.saidEl.classList.toggle("pending", text === null);
  }

  /** The listen socket's best guess so far, while the user still speaks (shown as pending). */
  hearing(text) {
    this.setSaid(text, "Hearing…");
    this.saidEl.classList.add("pending");
    this.el.dataset.partials = String(Number(this.el.dataset.partials || 0) + 1);
    this.scroll();
  }

  stage(text, kind) {
    const li = h("li", { class: kind || "" }, h("span", { text }),
      h("span", { class: "t", text: `+${ms(performance.now() - this.started)}` }));
    this.stages.append(li);
    this.scroll();
    return li;
  }

  notice(text, isError) {
    const p = h("p", { class: isError ? "notice error" : "notice", text, attrs: { role: isError ? "alert" : "status" } });
    this.el.append(p);
    this.scroll();
  }

  progress(data) {
    if (typeof data.timestamp === "number") this.clockSkew = Date.now() - data.timestamp;
    if (data.type === "transcribed") this.setSaid(data.transcript || "(nothing heard)", "You said");
    const li = this.stage(data.message || data.type);
    li.dataset.type = data.type || "";
    if (data.type === "executed" && data.success === false) li.classList.add("failed");
  }

  delta(text) {
    this.streamed += text;
    this.answer.textContent = this.streamed;
    this.answer.dataset.deltas = String(Number(this.answer.dataset.deltas || 0) + 1);
    this.answer.classList.add("streaming");
    this.scroll();
  }

  error(data) {
    const words = ERROR_WORDS[data.code] || data.message || "Something went wrong.";
    this.notice(words, true);
  }

  /** The done payload: the final answer, the outcome in words, and the timings. */
  done(payload) {
    this.answer.classList.remove("streaming");
    if (payload.response) this.answer.textContent = payload.response;
    if (payload.transcript && this.saidEl.classList.contains("pending")) this.setSaid(payload.transcript, "You said");
    const status = typeof payload.status === "string" ? payload.status : "failed";
    if (typeof payload.conversationId === "string") this.el.dataset.conversation = payload.conversationId;
    const words = STATUS_WORDS[status] || status;
    const badge = h("p", { class: `status ${status}`, attrs: { "data-status": status } },
      h("span", { text: words }),
      h("span", { text: typeof payload.totalExecutionTime === "number" ? `· ${ms(payload.totalExecutionTime)}` : "" }));
    this.el.append(badge);
    const waterfall = timingView(payload);
    if (waterfall) this.el.append(waterfall);
    this.scroll();
  }

  /** Server epoch ms -> our clock. */
  serverToLocal(epochMs) { return epochMs + this.clockSkew; }
}

const COLOURS = ["", "c1", "c2", "c3", "c4"];
const STAGE_NAMES = {
  transcribe: "transcription", analyze: "analysis", discover: "discovery",
  plan: "LLM (planning)", execute: "tools", hold: "holding for approval", summarize: "LLM (answer)",
};
// Parts inside the stages (docs/streaming.md): drawn under their stage, not added to the total.
const PART = /^(llm\d+|llm\d+FirstToken|tool\d+|firstDelta)$/;

/** A small waterfall from done.timings: the stages one after another (they add up to the
 *  total), each LLM round under the stage it belongs to, each tool call under "tools". */
function timingView(payload) {
  const timings = payload.timings && typeof payload.timings === "object" ? payload.timings : {};
  const number = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0;
  const stages = Object.entries(timings).filter(([name, value]) => !PART.test(name) && number(value));
  if (!stages.length) return null;
  const total = Math.max(1, stages.reduce((sum, [, v]) => sum + v, 0));
  const grid = h("div", { class: "waterfall", attrs: { role: "table", "aria-label": "Timings" } });
  const row = (label, start, length, klass) => {
    const seg = h("span", { class: `seg ${klass}` });
    seg.style.left = `${Math.min(100, (100 * start) / total)}%`;
    seg.style.width = `${Math.min(100, (100 * length) / total)}%`;
    grid.append(h("span", { class: "label", text: label, attrs: { role: "cell", title: label } }),
      h("span", { class: "track", attrs: { role: "cell", "aria-hidden": "true" } }, seg),
      h("span", { class: "ms", text: ms(length), attrs: { role: "cell" } }));
  };
  const rounds = Object.keys(timings).filter((k) => /^llm\d+$/.test(k) && number(timings[k]))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  const results = Array.isArray(payload.results) ? payload.results : [];
  let offset = 0, colour = 0;
  for (const [name, value] of stages) {
    const klass = COLOURS[colour++ % COLOURS.length];
    row(STAGE_NAMES[name] || name, offset, value, klass);
    let cursor = offset;
    if (name === "plan" || name === "summarize") {
      while (rounds.length) {
        const round = rounds[0], length = timings[round], first = timings[`${round}FirstToken`];
        // Planning holds the rounds that fit in it (at least one); the answer holds the rest.
        if (name === "plan" && cursor !== offset && cursor + length > offset + value + 2) break;
        rounds.shift();
        row(`↳ LLM round ${round.slice(3)}${number(first) ? ` (first token ${ms(first)})` : ""}`,
          cursor, length, klass);
        cursor += length;
      }
    }
    if (name === "execute") {
      for (const result of results) {
        const d = number(result.durationMs) ? result.durationMs : 0;
        row(`↳ ${result.service}.${result.tool}`, cursor, d, klass);
        cursor += d;
      }
    }
    offset += value;
  }
  const details = h("details", { class: "timing", attrs: { open: "" } },
    h("summary", { text: `Where the time went (${ms(total)})` }), grid);
  if (number(timings.firstDelta)) {
    details.append(h("p", { class: "hint", text: `First words after ${ms(timings.firstDelta)}.` }));
  }
  return details;
}

/** The approval card for a held action: what will run, where, with what, and why it is held. */
export function approvalCard({ confirmationId, actions, expiresAt, serviceTitle, toLocal, decide }) {
  const card = h("section", { class: "card", attrs: { "aria-label": "Approval needed", "data-confirmation": confirmationId } });
  card.append(h("h3", { text: "Approval needed" }),
    h("p", { text: "Nothing has run yet. Approve to run exactly this:" }));
  for (const action of Array.isArray(actions) ? actions : []) card.append(actionView(action, serviceTitle));
  const approve = h("button", { class: "primary", text: "Approve", attrs: { type: "button" } });
  const decline = h("button", { class: "danger", text: "Decline", attrs: { type: "button" } });
  const countdown = h("span", { class: "countdown", attrs: { role: "timer", "aria-live": "off" } });
  card.append(h("div", { class: "buttons" }, approve, decline, countdown));
  let timer = 0;
  const settle = (text) => {
    clearInterval(timer);
    approve.disabled = decline.disabled = true;
    card.classList.add("settled");
    card.querySelector("h3").textContent = text;
    countdown.textContent = "";
  };
  approve.addEventListener("click", () => { if (decide(true)) settle("Approved"); });
  decline.addEventListener("click", () => { if (decide(false)) settle("Declined"); });
  const tick = () => {
    if (typeof expiresAt !== "number") return;
    const left = Math.max(0, Math.round((toLocal(expiresAt) - Date.now()) / 1000));
    countdown.textContent = `Expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left <= 0) settle("Expired: nothing was run");
  };
  tick();
  timer = setInterval(tick, 1000);
  return { card, setExpiry(value) { expiresAt = value; tick(); }, approve };
}

function actionView(action, serviceTitle) {
  const box = h("div", { class: "action" });
  box.append(h("p", { class: "what", text: `Run ${action.tool}` }),
    h("p", { class: "service", text: `on ${serviceTitle(action.service)}` }));
  const args = action.arguments && typeof action.arguments === "object" ? Object.entries(action.arguments) : [];
  if (args.length) {
    const list = h("dl", { attrs: { "aria-label": "Arguments" } });
    for (const [name, value] of args) list.append(h("dt", { text: name }), h("dd", { text: readable(value) }));
    box.append(list);
  } else {
    box.append(h("p", { class: "service", text: "No arguments." }));
  }
  const risk = typeof action.risk === "string" ? action.risk : "high";
  box.append(h("p", { class: "why" }, h("span", { class: `risk ${risk}`, text: `${risk} risk` }),
    document.createTextNode(action.reason ? ` ${action.reason}` : "")));
  return box;
}
