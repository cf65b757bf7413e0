// Push-to-talk recording: MediaRecorder for the upload, an AnalyserNode for the live level.

const TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

function pickType() {
  if (typeof MediaRecorder === "undefined") return null;
  return TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
}

export class Recorder {
  /** onLevel(0..1) is called on every animation frame while recording. */
  constructor(onLevel) {
    this.onLevel = onLevel;
    this.stream = null;
    this.recorder = null;
    this.chunks = [];
    this.context = null;
    this.frame = 0;
    this.startedAt = 0;
  }

  get recording() { return this.recorder !== null; }

  static supported() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && pickType() !== null);
  }

  async start() {
    if (this.recorder) return;
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    const type = pickType();
    this.recorder = new MediaRecorder(this.stream, type ? { mimeType: type } : undefined);
    this.chunks = [];
    this.recorder.addEventListener("dataavailable", (e) => { if (e.data.size) this.chunks.push(e.data); });
    this.recorder.start(250);
    this.startedAt = performance.now();
    this.watchLevel();
  }

  watchLevel() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    this.context = new Context();
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 1024;
    this.context.createMediaStreamSource(this.stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const rms = Math.sqrt(sum / samples.length);
      this.onLevel(Math.min(1, rms * 4));
      this.frame = requestAnimationFrame(tick);
    };
    tick();
  }

  /** Stop; resolves to {blob, durationMs} (blob null when nothing was recorded). */
  stop() {
    const recorder = this.recorder;
    if (!recorder) return Promise.resolve({ blob: null, durationMs: 0 });
    const durationMs = performance.now() - this.startedAt;
    return new Promise((resolve) => {
      recorder.addEventListener("stop", () => {
        const type = recorder.mimeType || (this.chunks[0] && this.chunks[0].type) || "audio/webm";
        const blob = this.chunks.length ? new Blob(this.chunks, { type }) : null;
        this.release();
        resolve({ blob, durationMs });
      }, { once: true });
      recorder.stop();
      this.recorder = null;
    });
  }

  release() {
    cancelAnimationFrame(this.frame);
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.onLevel(0);
  }
}

/** A file name whose extension matches the recorded container (the server sniffs it too). */
export function fileNameFor(blob) {
  const type = (blob && blob.type) || "";
  if (type.includes("ogg")) return "speech.ogg";
  if (type.includes("mp4")) return "speech.m4a";
  return "speech.webm";
}
