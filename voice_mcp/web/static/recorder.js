// Push-to-talk recording: MediaRecorder for the upload, an AnalyserNode for the live level,
// and, when asked, an AudioWorklet (pcm-worklet.js) turning the same microphone into 16 kHz
// PCM frames for the listen socket while the user speaks.

export const PCM_RATE = 16000;
const FLUSH_WAIT_MS = 250;  // the worklet's last frame; never hold a stop longer than this
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
    this.source = null;
    this.worklet = null;
    this.flushed = null;
  }

  get recording() { return this.recorder !== null; }

  static supported() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && pickType() !== null);
  }

  /** Open the microphone. With `onFrame`, PCM frames (ArrayBuffer, 16 kHz mono s16le) go to
   *  it while recording; resolves to whether they will (false: no AudioWorklet here, a context
   *  that is not running, a rate under 16 kHz; the recording is still made for an upload). */
  async start(onFrame = null) {
    if (this.recorder) return false;
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    const type = pickType();
    this.recorder = new MediaRecorder(this.stream, type ? { mimeType: type } : undefined);
    this.chunks = [];
    this.recorder.addEventListener("dataavailable", (e) => { if (e.data.size) this.chunks.push(e.data); });
    this.recorder.start(250);
    this.startedAt = performance.now();
    this.watchLevel();
    return onFrame ? this.streamPcm(onFrame) : false;
  }

  async streamPcm(onFrame) {
    const context = this.context;
    if (!context || !context.audioWorklet || context.state !== "running" || context.sampleRate < PCM_RATE) return false;
    try {
      await context.audioWorklet.addModule("/static/pcm-worklet.js");
    } catch {
      return false;
    }
    if (this.context !== context || !this.recorder) return false; // stopped meanwhile
    const node = new AudioWorkletNode(context, "pcm16-downsampler", {
      numberOfInputs: 1, numberOfOutputs: 0, processorOptions: { targetRate: PCM_RATE },
    });
    node.port.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) onFrame(event.data);
      else if (event.data === "flushed" && this.flushed) this.flushed();
    };
    this.source.connect(node);
    this.worklet = node;
    return true;
  }

  /** The worklet's last partial frame, posted before this resolves (bounded). */
  flushPcm() {
    const node = this.worklet;
    this.worklet = null;
    if (!node) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, FLUSH_WAIT_MS);
      this.flushed = () => { clearTimeout(timer); this.flushed = null; resolve(); };
      node.port.postMessage("flush");
    });
  }

  watchLevel() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    this.context = new Context();
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 1024;
    this.source = this.context.createMediaStreamSource(this.stream);
    this.source.connect(analyser);
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

  /** Stop; resolves to {blob, durationMs} (blob null when nothing was recorded), after the
   *  last PCM frame went to onFrame. */
  async stop() {
    const recorder = this.recorder;
    if (!recorder) return { blob: null, durationMs: 0 };
    this.recorder = null;
    const durationMs = performance.now() - this.startedAt;
    await this.flushPcm();
    return new Promise((resolve) => {
      recorder.addEventListener("stop", () => {
        const type = recorder.mimeType || (this.chunks[0] && this.chunks[0].type) || "audio/webm";
        const blob = this.chunks.length ? new Blob(this.chunks, { type }) : null;
        this.release();
        resolve({ blob, durationMs });
      }, { once: true });
      recorder.stop();
    });
  }

  release() {
    cancelAnimationFrame(this.frame);
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
    this.source = null;
    this.worklet = null;
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
