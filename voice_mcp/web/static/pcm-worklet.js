// An AudioWorklet processor: the microphone, mixed to mono and downsampled from the
// AudioContext's rate to 16 kHz, as 16-bit little-endian PCM frames of 40 ms posted to the page
// (what GET /api/voice/listen takes, docs/api.md "Listen"). Loaded from 'self' (the CSP's
// script-src); it runs on the audio thread, so it only averages and converts.

const FRAME_MS = 40;

class Pcm16Downsampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const target = (options.processorOptions && options.processorOptions.targetRate) || 16000;
    // Input samples per output sample (>= 1; the page never asks to upsample). Each output is
    // the mean of the inputs since the last one: a box low-pass before decimation, enough to
    // keep speech above 8 kHz from folding back into the band the recogniser uses.
    this.step = sampleRate / target;
    this.position = 0;
    this.sum = 0;
    this.count = 0;
    this.frame = new DataView(new ArrayBuffer(Math.round((target * FRAME_MS) / 1000) * 2));
    this.filled = 0;
    this.running = true;
    this.port.onmessage = (event) => {
      if (event.data !== "flush") return;
      this.post();
      this.running = false;
      this.port.postMessage("flushed");
    };
  }

  post() {
    if (!this.filled) return;
    const bytes = this.frame.buffer.slice(0, this.filled);
    this.port.postMessage(bytes, [bytes]);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!this.running) return false;
    if (!channels || !channels.length) return true;
    const length = channels[0].length, width = channels.length;
    for (let i = 0; i < length; i++) {
      let sample = 0;
      for (let c = 0; c < width; c++) sample += channels[c][i];
      this.sum += sample / width;
      this.count += 1;
      this.position += 1;
      if (this.position < this.step) continue;
      this.position -= this.step;
      const value = Math.max(-1, Math.min(1, this.sum / this.count));
      this.sum = 0;
      this.count = 0;
      this.frame.setInt16(this.filled, Math.round(value * 32767), true);
      this.filled += 2;
      if (this.filled === this.frame.byteLength) this.post();
    }
    return true;
  }
}

registerProcessor("pcm16-downsampler", Pcm16Downsampler);
