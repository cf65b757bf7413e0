// Tiny DOM helpers. Text from the server, tools or the LLM only ever goes in through textContent.

/** Make an element: h("li", {class: "x", text: "hello", attrs: {"aria-label": "y"}}, child...) */
export function h(tag, options = {}, ...children) {
  const el = document.createElement(tag);
  if (options.class) el.className = options.class;
  if (options.text !== undefined && options.text !== null) el.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attrs || {})) el.setAttribute(name, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

export const $ = (id) => document.getElementById(id);

/** Milliseconds as words: 840 ms, 1.2 s. */
export function ms(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "";
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

/** Any JSON value as readable text (strings as they are, the rest pretty-printed). */
export function readable(value) {
  if (typeof value === "string") return value;
  try { return JSON.stringify(value, null, 1).replace(/\n\s*/g, " "); } catch { return String(value); }
}
