// The console's wiring: sign-in, commands typed or spoken, streamed answers read aloud,
// approvals, services and examples. Only the public API is used (docs/console.md).

import { apiFetch, ApiError, explain, followCommand, getJson } from "./api.js";
import { ListenSocket } from "./listen.js";
import { listenForPostedToken, onTokenChange, setToken, subject, subjectOf, takeTokenFromLocation, token } from "./auth.js";
import { $, h } from "./dom.js";
import { fileNameFor, Recorder } from "./recorder.js";
import { ServicesPanel } from "./services.js";
import { Speaker } from "./speaker.js";
import { questionCard } from "./question.js";
import { approvalCard, Turn } from "./turn.js";

const HOLD_MS = 350;          // a press longer than this is push-to-talk; shorter toggles
const MIN_RECORDING_MS = 300;
const AUTO_STOP_SILENCE_MS = 1500, AUTO_STOP_MAX_MS = 15000;

const state = { offeredToken: null, conversationId: null, epoch: 0, busy: false, pressStart: 0, autoStop: null, heard: false, quietSince: 0, question: null, live: null, answering: null };
const log = $("log"), query = $("query"), send = $("send"), talk = $("talk");
const levelBar = document.querySelector(".level-bar");
const speaker = new Speaker(() => {
  $("mute").disabled = true;
  $("mute").title = "This server does not offer speech output";
  note("Answers are shown but not spoken: this server does not offer speech output.");
});
const recorder = new Recorder(showLevel);
const services = new ServicesPanel(loadExamples);

function note(text, isError = false) {
  $("empty")?.remove();
  log.append(h("p", { class: isError ? "notice error" : "notice", text, attrs: { role: isError ? "alert" : "status" } }));
  log.scrollTop = log.scrollHeight;
}

function setBusy(busy) {
  state.busy = busy;
  send.disabled = busy;
  talk.disabled = busy && !recorder.recording && !state.question;
  log.setAttribute("aria-busy", String(busy));
  for (const button of $("examples").querySelectorAll("button")) button.disabled = busy;
}

function showLevel(value) {
  levelBar.style.transform = `scaleX(${value.toFixed(3)})`;
  $("level").setAttribute("aria-valuenow", String(Math.round(value * 100)));
  if (state.autoStop) autoStopCheck(value);
}

// ---- sign-in ------------------------------------------------------------------------------

function showWho() {
  const who = subject();
  $("who").textContent = token() ? `Signed in${who ? ` as ${who}` : ""}` : "Not signed in";
  $("signin").hidden = Boolean(token());
}

/** A sign-in link arrived in a tab that is signed in: switch only if the user says so. */
function askToSwitch(offered) {
  const name = (value) => subjectOf(value) || "an unnamed account";
  $("switch-text").textContent = `A sign-in link asks to switch this tab to ${name(offered)}. You are signed in as ${name(token())}: after a switch, your commands and connections would go to ${name(offered)}'s account.`;
  state.offeredToken = offered;
  $("switch").hidden = false;
}

function closeSwitch(accept) {
  if (accept && state.offeredToken) setToken(state.offeredToken);
  state.offeredToken = null;
  $("switch").hidden = true;
}

$("switch-accept").addEventListener("click", () => closeSwitch(true));
$("switch-keep").addEventListener("click", () => closeSwitch(false));

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("token").value);
  $("token").value = "";
});

onTokenChange(() => { showWho(); if (token()) { services.refresh(); services.redeemPending(); } });

// ---- commands -----------------------------------------------------------------------------

/** Run one command stream into `turn`; resolves after its done (or after it was lost). */
async function run(turn, open) {
  $("empty")?.remove();
  setBusy(true);
  const epoch = state.epoch;
  let spokeDeltas = false, done = null;
  try {
    await followCommand(open, {
      event(kind, data) {
        if (data && typeof data.commandId === "string") turn.commandId = data.commandId;
        if (kind === "progress") onProgress(turn, data);
        else if (kind === "delta" && typeof data.text === "string") { spokeDeltas = true; turn.delta(data.text); speaker.feed(data.text); }
        else if (kind === "error") turn.error(data);
        else if (kind === "done") { done = data; onDone(turn, data, spokeDeltas, epoch === state.epoch); }
      },
      reconnecting(attempt, delay) { turn.stage(`Connection lost: reconnecting (attempt ${attempt}) in ${delay} ms…`, "note"); },
      reconnected(lastId) { turn.stage(`Reconnected: resuming after event ${lastId ?? "0"}`, "note"); },
      lost(message) { turn.notice(message, true); },
    });
  } catch (err) {
    turn.notice(err instanceof ApiError ? err.message : `Unexpected problem: ${err}`, true);
    if (err instanceof ApiError && err.status === 401) { setToken(""); }
  } finally {
    state.question = null;  // the command ended: its questions are gone
    setBusy(false);
  }
  loadExamples();
  if (done && done.continueConversation && epoch === state.epoch) reopenMicrophone();
}

function onProgress(turn, data) {
  turn.progress(data);
  if (data.type === "confirmation_required" && data.confirmationId) showApproval(turn, data);
  if (data.type === "input_required" && data.inputId && turn.commandId) showQuestion(turn, data);
}

/** A service's question: a card, spoken; answered while the command keeps running. */
function showQuestion(turn, question) {
  if (turn.cards.has(question.inputId)) return;
  const path = `/api/voice/commands/${encodeURIComponent(turn.commandId)}/input`;
  const view = questionCard(question, (body) => apiFetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  }), () => { if (state.question?.view === view) { state.question = null; setBusy(state.busy); } });
  // Talk answers the open question while the command waits for it: on the command's listen
  // socket if it runs on one, else as a recording posted with the inputId.
  state.question = { path, inputId: question.inputId, view, socket: turn.socket };
  setBusy(state.busy);
  turn.cards.set(question.inputId, view);
  turn.el.append(view.card);
  turn.scroll();
  speaker.feed(question.message);
  speaker.flush();
  view.accept.focus({ preventScroll: true });
}

function onDone(turn, payload, spokeDeltas, current) {
  turn.done(payload);
  // A command that ends after "New conversation" must not pull the old conversation back.
  if (current && typeof payload.conversationId === "string") state.conversationId = payload.conversationId;
  if (!spokeDeltas && payload.response) speaker.feed(payload.response);
  speaker.flush();
  if (payload.status === "confirmation_required" && payload.confirmation) showApproval(turn, payload.confirmation);
  if (payload.error && payload.error.message && !turn.el.querySelector(".notice.error")) turn.notice(payload.error.message, true);
}

function showApproval(turn, { confirmationId, actions, expiresAt }) {
  const existing = turn.cards.get(confirmationId);
  if (existing) { if (typeof expiresAt === "number") existing.setExpiry(expiresAt); return; }
  const view = approvalCard({
    confirmationId, actions, expiresAt,
    serviceTitle: (id) => services.title(id),
    toLocal: (epochMs) => turn.serverToLocal(epochMs),
    decide: (approved) => decide(confirmationId, approved),
  });
  turn.cards.set(confirmationId, view);
  turn.el.append(view.card);
  turn.scroll();
  // Focus stays where it was: Space is the talk key, and a focused Approve would take the next
  // press as a yes to a risky action. The log region announces the card.
}

/** Answer a held action; false (and nothing sent) while another command is running. */
function decide(confirmationId, approved) {
  if (state.busy) { note("Wait for the running command to finish, then answer."); return false; }
  const turn = new Turn(log, approved ? "Approve" : "Decline", "You answered");
  run(turn, () => apiFetch("/api/voice/confirm", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ confirmationId, approved }),
  }));
  return true;
}

function sendText(text) {
  const clean = text.trim();
  if (!clean || state.busy) return;
  query.value = "";
  const body = { query: clean };
  if (state.conversationId) body.conversationId = state.conversationId;
  run(new Turn(log, clean), () => apiFetch("/api/voice/llm/stream", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
  }));
}

function sendAudio(blob) {
  if (state.question) { uploadAnswer(state.question, blob); return; }
  run(new Turn(log, null, "You said"), () => uploadAudio(blob));
}

function uploadAudio(blob) {
  const form = new FormData();
  form.append("audio", blob, fileNameFor(blob));
  if (state.conversationId) form.append("conversationId", state.conversationId);
  return apiFetch("/api/voice/audio/stream", {
    method: "POST", headers: { Accept: "text/event-stream" }, body: form,
  });
}

/** Push-to-talk over the listen socket: the speech streams while it is said, the partial
 *  text shows in a turn opened by the first one. In `vad` mode (the follow-up microphone) the
 *  server says when the speech ended, and the recording stops then. */
function openLive(mode) {
  const live = { turn: null, socket: null };
  const turn = () => {
    $("empty")?.remove();
    return live.turn || (live.turn = new Turn(log, null, "You said"));
  };
  live.socket = new ListenSocket({
    conversationId: state.conversationId, mode,
    onEnded: () => { if (state.live === live) stopRecording(); },
    onPartial: (text) => turn().hearing(text),
    onTranscript: (text) => turn().setSaid(text, "You said"),
  });
  live.turnNow = turn;
  return live;
}

/** The user let go: the socket's events are the command's; a socket refused before the server
 *  sent anything (cannot open, 4401, 4503...) gives way to the upload of the same speech. */
function sendLive(live, blob) {
  live.socket.stop();
  const turn = live.turnNow();
  turn.started = performance.now(); // stage times count from the end of speech, as an upload's
  run(turn, async () => {
    try {
      await live.socket.acknowledged;
      turn.el.dataset.via = "listen";
      turn.socket = live.socket; // its questions are answered on it
      return live.socket;
    } catch {
      turn.el.dataset.via = "upload";
      return uploadAudio(blob);
    }
  });
}

/** Send a recording as the answer to the open question; the card says how it went. */
function uploadAnswer(question, blob) {
  question.view.answerWith(() => postAnswer(question, blob));
}

function postAnswer({ path, inputId }, blob) {
  const form = new FormData();
  form.append("inputId", inputId);
  form.append("audio", blob, fileNameFor(blob));
  return apiFetch(path, { method: "POST", body: form });
}

/** The user let go of an answer said on the command's socket: `stop`, then the card shows
 *  the server's reply (an `answer_error` keeps the card open). A socket that closed before
 *  replying gives way to the upload of the same speech while the question is still open.
 *  Escape closes the socket, as nothing takes an utterance back: the command goes on over SSE. */
function finishAnswer({ question, socket, reply }, blob, cancel) {
  if (cancel) { socket.close(); return; }
  socket.stop();
  question.view.answerWith(async () => {
    let message;
    try {
      message = await reply;
    } catch {
      if (state.question !== question || !blob) throw new ApiError(409, "input_closed", "The command ended before the answer was taken.");
      return postAnswer(question, blob);
    }
    if (message.type === "answer_error") throw new ApiError(message.status, message.code, explain(message.status, message.code, message.message));
  });
}

$("ask").addEventListener("submit", (event) => { event.preventDefault(); sendText(query.value); });

$("new-conversation").addEventListener("click", () => {
  state.conversationId = null;
  state.epoch += 1;
  speaker.stop();
  log.replaceChildren(h("p", { class: "empty", text: "New conversation. Ask anything.", attrs: { id: "empty" } }));
  query.focus();
});

$("mute").addEventListener("click", () => {
  const muted = $("mute").getAttribute("aria-pressed") !== "true";
  $("mute").setAttribute("aria-pressed", String(muted));
  speaker.setMuted(muted);
  sessionStorage.setItem("voice-mcp-muted", muted ? "1" : "");
});

// ---- push to talk -------------------------------------------------------------------------

async function startRecording(auto = false) {
  if (recorder.recording || (state.busy && !state.question)) return;
  speaker.stop();
  // A command streams on a socket of its own (a follow-up lets the server hear the end of
  // speech); a question's answer on its command's socket while that is open, else as an upload.
  const question = state.question;
  const answerSocket = question && question.socket && !question.socket.closed ? question.socket : null;
  const live = question ? null : openLive(auto ? "vad" : "push-to-talk");
  const sink = live ? live.socket : answerSocket;
  state.live = live;
  try {
    const streaming = await recorder.start(sink ? (pcm) => sink.frame(pcm) : null);
    if (live && !streaming) { live.socket.close(); if (state.live === live) state.live = null; }
    if (answerSocket && streaming && recorder.recording) {
      const reply = answerSocket.answer(question.inputId, { onPartial: question.view.hearing, onTranscript: question.view.heard });
      state.answering = { question, socket: answerSocket, reply };
    }
  } catch (err) {
    if (live) live.socket.close();
    state.live = null;
    note(err && err.name === "NotAllowedError"
      ? "The microphone is blocked: allow it for this page in the browser's site settings."
      : "No microphone could be opened.", true);
    return;
  }
  talk.setAttribute("aria-pressed", "true");
  talk.disabled = false;
  state.autoStop = auto ? { started: performance.now() } : null;
  state.heard = false;
}

async function stopRecording(cancel = false) {
  if (!recorder.recording) return;
  talk.setAttribute("aria-pressed", "false");
  state.autoStop = null;
  const live = state.live, answering = state.answering;
  state.live = state.answering = null;
  const { blob, durationMs } = await recorder.stop(); // the last frames have gone to the socket
  if (answering) { finishAnswer(answering, blob, cancel); return; } // the server judges its length
  const tooShort = !blob || durationMs < MIN_RECORDING_MS;
  if (live && (cancel || tooShort)) { live.socket.close(); if (live.turn) live.turn.el.remove(); }
  if (cancel) return;
  if (tooShort) { note("That was too short: hold Talk (or Space) while you speak."); return; }
  if (live) sendLive(live, blob); else sendAudio(blob);
}

function autoStopCheck(value) {
  const now = performance.now();
  if (value > 0.08) { state.heard = true; state.quietSince = now; }
  // On the listen socket the server hears the end of speech; the level decides only without it.
  const serverEnds = state.live && !state.live.socket.closed;
  const quiet = !serverEnds && state.heard && now - state.quietSince > AUTO_STOP_SILENCE_MS;
  if (quiet || now - state.autoStop.started > AUTO_STOP_MAX_MS) stopRecording(!state.heard);
}

function reopenMicrophone() {
  if (!Recorder.supported()) return;
  speaker.idle().then(() => startRecording(true));
}

talk.addEventListener("pointerdown", (event) => {
  if (event.button !== 0) return;
  event.preventDefault();
  talk.focus();
  if (recorder.recording) { stopRecording(); state.pressStart = 0; return; }
  state.pressStart = performance.now();
  startRecording();
});
talk.addEventListener("pointerup", () => {
  if (state.pressStart && performance.now() - state.pressStart >= HOLD_MS) stopRecording();
  state.pressStart = 0;
});
talk.addEventListener("click", (event) => {
  if (event.detail !== 0) return; // pointer clicks are handled above; this is Enter on the button
  if (recorder.recording) stopRecording(); else startRecording();
});

const typing = (target) => target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target?.isContentEditable;
document.addEventListener("keydown", (event) => {
  if (event.code === "Escape" && recorder.recording) { stopRecording(true); return; }
  if (event.code !== "Space" || typing(event.target) || (event.target instanceof HTMLButtonElement && event.target !== talk)) return;
  event.preventDefault();
  if (!event.repeat) startRecording();
});
document.addEventListener("keyup", (event) => {
  if (event.code !== "Space" || typing(event.target) || (event.target instanceof HTMLButtonElement && event.target !== talk)) return;
  event.preventDefault();
  stopRecording();
});

// ---- examples -----------------------------------------------------------------------------

async function loadExamples() {
  if (!token()) return;
  let examples = [];
  try {
    examples = (await getJson("/api/voice/examples")).examples || [];
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) return;
    try {
      const { services: found } = await getJson("/api/voice/capabilities");
      for (const service of found || []) {
        if (service.connected === false) continue;
        for (const tool of service.tools || []) if (tool.risk === "low" && tool.description) examples.push(tool.description.split(/[.\n]/)[0]);
      }
    } catch { return; }
  }
  const chosen = examples.filter((e) => typeof e === "string").slice(0, 6);
  const shown = [...$("examples").querySelectorAll("button")].map((b) => b.textContent);
  if (chosen.join("\n") === shown.join("\n")) return; // unchanged: keep the buttons (and focus)
  $("examples").replaceChildren(...chosen.map((example) => {
    const button = h("button", { text: example, attrs: { type: "button" } });
    button.disabled = state.busy;
    button.addEventListener("click", () => sendText(example));
    return button;
  }));
}

// ---- start --------------------------------------------------------------------------------

takeTokenFromLocation(askToSwitch);
window.addEventListener("hashchange", () => {
  takeTokenFromLocation(askToSwitch);
  services.completeFromLocation();
});
listenForPostedToken();
showWho();
if (sessionStorage.getItem("voice-mcp-muted")) { $("mute").setAttribute("aria-pressed", "true"); speaker.setMuted(true); }
if (!Recorder.supported()) { talk.disabled = true; $("talk-help").textContent = "This browser cannot record audio here (a secure origin is needed)."; }
if (token()) services.refresh();
services.completeFromLocation();
document.documentElement.dataset.ready = "true";
