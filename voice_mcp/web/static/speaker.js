// Speak the answer sentence by sentence while it streams in, through POST /api/voice/speech.
// Audio for the next sentence is fetched while the current one plays.

import { apiFetch, ApiError } from "./api.js";

const SENTENCE_END = /[.!?…。！？](?:["')\]]*)(?:\s+|$)/g;

export class Speaker {
  constructor(onUnavailable) {
    this.muted = false;
    this.available = true;
    this.onUnavailable = onUnavailable;
    this.pending = "";
    this.queue = [];   // promises of blob URLs, in order
    this.playing = null;
    this.audio = null;
    this.spoken = 0;   // sentences sent to the server, for tests and curious people
    this.idleWaiters = [];
  }

  setMuted(muted) {
    this.muted = muted;
    if (muted) this.stop();
  }

  /** Add streamed text; every complete sentence is sent off to be spoken. */
  feed(text) {
    if (!text) return;
    this.pending += text;
    let start = 0;
    for (const match of this.pending.matchAll(SENTENCE_END)) {
      const end = match.index + match[0].length;
      this.say(this.pending.slice(start, end)); // one request per sentence
      start = end;
    }
    this.pending = this.pending.slice(start);
  }

  /** The answer ended: speak whatever is left. */
  flush() {
    const rest = this.pending;
    this.pending = "";
    this.say(rest);
  }

  say(text) {
    const clean = text.trim();
    if (!clean || this.muted || !this.available) return;
    this.spoken += 1;
    this.queue.push(this.fetchAudio(clean));
    if (!this.playing) this.playing = this.drain();
  }

  async fetchAudio(text) {
    try {
      const response = await apiFetch("/api/voice/speech", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text }),
      });
      return URL.createObjectURL(await response.blob());
    } catch (err) {
      if (err instanceof ApiError && [404, 405, 501, 503].includes(err.status) && this.available) {
        this.available = false;
        this.onUnavailable(err.message);
      }
      return null;
    }
  }

  async drain() {
    while (this.queue.length) {
      const url = await this.queue.shift();
      if (url && !this.muted) await this.play(url);
      if (url) URL.revokeObjectURL(url);
    }
    this.playing = null;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  play(url) {
    return new Promise((resolve) => {
      const audio = new Audio(url);
      this.audio = audio;
      const finish = () => { this.audio = null; resolve(); };
      audio.addEventListener("ended", finish, { once: true });
      audio.addEventListener("error", finish, { once: true });
      audio.addEventListener("pause", finish, { once: true });
      audio.play().catch(finish);
    });
  }

  /** Resolves when everything queued has been played (or skipped). */
  idle() {
    if (!this.playing && !this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop() {
    this.pending = "";
    this.queue = [];
    if (this.audio) this.audio.pause();
  }
}
