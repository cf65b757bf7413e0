// The listen socket (GET /api/voice/listen, docs/api.md "Listen"): speech streamed while the
// user holds Talk, the partial text back as it is recognised, then the command's events, read
// by followCommand exactly as an SSE stream's. While that command runs, its socket also takes
// the spoken answer to a service's question (`start` with `answer`).

import { token } from "./auth.js";
import { PCM_RATE } from "./recorder.js";

const OPEN_WAIT_MS = 3000; // a socket not open this long after Talk was pressed is given up

/** The socket closed before the server sent anything: the recording goes as an upload. */
export class ListenRefused extends Error {
  constructor(code, reason) {
    super(reason || `The listen socket closed (${code}).`);
    this.code = code;
  }
}

export class ListenSocket {
  /** Opens at once and sends `start`; frames given before it is open are kept and sent then.
   *  In `vad` mode the server ends the utterance at the end of speech: `onEnded` is called then
   *  (at its transcript, or its first event when nothing could be heard). */
  constructor({ conversationId, mode = "push-to-talk", onPartial, onTranscript, onEnded = () => {} }) {
    this.onPartial = onPartial;
    this.onTranscript = onTranscript;
    this.onEnded = onEnded;
    this.hearing = true;   // the command's own utterance has not ended yet
    this.answering = null; // the spoken answer waiting for its reply
    this.waiting = [];     // frames (and the stop) before the socket opened
    this.records = [];     // events not yet read
    this.wake = null;
    this.stopped = false;
    this.closed = false;
    this.acknowledged = new Promise((resolve, reject) => { this.ack = resolve; this.refuse = reject; });
    this.acknowledged.catch(() => {});
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/voice/listen`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) { // a policy or a URL this browser refuses: as a socket that never opened
      this.ws = null;
      this.closed = true;
      this.refuse(new ListenRefused(1006, String(err)));
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    const start = { type: "start", sampleRate: PCM_RATE, mode };
    if (token()) start.token = token(); // a browser cannot set the Authorization header here
    if (conversationId) start.conversationId = conversationId;
    const giveUp = setTimeout(() => { if (ws.readyState === WebSocket.CONNECTING) this.close(); }, OPEN_WAIT_MS);
    ws.addEventListener("open", () => {
      clearTimeout(giveUp);
      ws.send(JSON.stringify(start));
      for (const item of this.waiting) ws.send(item);
      this.waiting = null;
    });
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", (event) => {
      clearTimeout(giveUp);
      this.closed = true;
      this.refuse(new ListenRefused(event.code, event.reason));
      if (this.answering) this.answering.reject(new ListenRefused(event.code, event.reason));
      this.answering = null;
      this.notify();
    });
  }

  send(item) {
    if (this.closed) return;
    if (this.waiting) this.waiting.push(item);
    else this.ws.send(item);
  }

  /** A PCM frame (dropped once `stop` went). */
  frame(pcm) { if (!this.stopped) this.send(pcm); }

  /** The user let go: the utterance ends here. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.send(JSON.stringify({ type: "stop" }));
  }

  close() {
    if (this.ws && (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN)) this.ws.close(1000);
  }

  /** Answer the running command's question `inputId` by voice: frames go again until `stop`.
   *  Resolves to the server's `answered` or `answer_error` message; rejects if the socket
   *  closes first. `onPartial` and `onTranscript` show what is heard meanwhile. */
  answer(inputId, { onPartial, onTranscript }) {
    const reply = new Promise((resolve, reject) => {
      this.answering = { inputId, onPartial, onTranscript, resolve, reject };
    });
    reply.catch(() => {});
    if (this.closed) this.answering.reject(new ListenRefused(1006, "The listen socket is closed."));
    this.stopped = false;
    this.send(JSON.stringify({ type: "start", answer: inputId, sampleRate: PCM_RATE, mode: "push-to-talk" }));
    return reply;
  }

  /** A message about the answer being heard; false if it is not one. */
  heardAnswer(answering, message) {
    if (message.type === "partial" && typeof message.text === "string") answering.onPartial(message.text);
    else if (message.inputId !== answering.inputId) return false;
    else if (message.type === "transcript" && typeof message.text === "string") answering.onTranscript(message.text);
    else if (message.type === "answered" || message.type === "answer_error") {
      this.answering = null;
      this.stopped = true;
      answering.resolve(message);
    } else return false;
    return true;
  }

  /** The server ended the command's utterance (in `vad` mode, before any `stop`). */
  ended() {
    if (!this.hearing) return;
    this.hearing = false;
    if (this.stopped) return;
    this.stopped = true;
    this.onEnded();
  }

  receive(raw) {
    if (typeof raw !== "string") return;
    let message;
    try { message = JSON.parse(raw); } catch { return; }
    if (!message || typeof message !== "object") return;
    this.ack();
    if (this.answering && this.heardAnswer(this.answering, message)) return;
    if (message.type === "partial" && typeof message.text === "string") this.onPartial(message.text);
    else if (message.type === "transcript" && typeof message.text === "string") { this.ended(); this.onTranscript(message.text); }
    else if (message.type === "event" && typeof message.event === "string") {
      this.ended();
      this.records.push({ id: String(message.id), event: message.event, data: message.data });
      this.notify();
    }
  }

  notify() {
    const wake = this.wake;
    this.wake = null;
    if (wake) wake();
  }

  /** The command's events as {id, event, data} records, up to its `done`; ends early if the
   *  socket drops (followCommand resumes by commandId). The socket is closed once the reader
   *  stops (after `done`: one command per press). */
  async *events() {
    try {
      for (;;) {
        while (this.records.length) {
          const record = this.records.shift();
          yield record;
          if (record.event === "done") return;
        }
        if (this.closed) return;
        await new Promise((resolve) => { this.wake = resolve; });
      }
    } finally {
      this.close();
    }
  }
}
