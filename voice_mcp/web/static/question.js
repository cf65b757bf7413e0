// A service's question mid-command (docs/api.md, "Services that ask"): a card with its
// fields, Accept/Decline, a typed answer in words, or for URL mode a link opened in a new tab;
// a spoken answer shows what is heard while it is said.
import { ApiError } from "./api.js";
import { h } from "./dom.js";

function control(field) {
  const label = field.title || field.name;
  const id = `q-${field.name}-${Math.random().toString(36).slice(2, 8)}`;
  let input;
  if (Array.isArray(field.enum)) {
    input = h("select", { attrs: { id, name: field.name } });
    if (field.type === "array") input.multiple = true;
    else if (!field.required) input.append(h("option", { text: "", attrs: { value: "" } }));
    field.enum.forEach((value, i) => {
      const title = (field.enumTitles || [])[i] ?? String(value);
      const option = h("option", { text: title, attrs: { value: String(i) } });
      if (field.default === value || (Array.isArray(field.default) && field.default.includes(value))) option.selected = true;
      input.append(option);
    });
  } else if (field.type === "boolean") {
    input = h("input", { attrs: { id, type: "checkbox", name: field.name } });
    input.checked = field.default === true;
  } else {
    const type = field.type === "number" || field.type === "integer" ? "number" : "text";
    input = h("input", { attrs: { id, type, name: field.name } });
    if (field.default !== undefined) input.value = String(field.default);
    if (typeof field.minimum === "number") input.min = String(field.minimum);
    if (typeof field.maximum === "number") input.max = String(field.maximum);
  }
  const row = h("p", { class: "field" }, h("label", { text: `${label}${field.required ? " *" : ""}`, attrs: { for: id } }), input);
  if (field.description) row.append(h("span", { class: "hint", text: ` ${field.description}` }));
  return { row, value: () => valueOf(field, input) };
}

function valueOf(field, input) {
  if (Array.isArray(field.enum)) {
    const picked = [...input.selectedOptions].filter((o) => o.value !== "").map((o) => field.enum[Number(o.value)]);
    return field.type === "array" ? (picked.length ? picked : undefined) : picked[0];
  }
  if (field.type === "boolean") return input.checked;
  if (input.value === "") return undefined;
  return field.type === "number" || field.type === "integer" ? Number(input.value) : input.value;
}

/** The card; `send(body)` posts the answer and resolves, or throws an ApiError (422 keeps it open). */
export function questionCard(question, send, closed = () => {}) {
  const card = h("section", { class: "card question", attrs: { "aria-label": "A service asks", "data-input": question.inputId } });
  card.append(h("h3", { text: "A service asks" }), h("p", { class: "what", text: question.message }));
  const controls = (question.mode === "form" ? question.fields || [] : []).map(control);
  for (const c of controls) card.append(c.row);
  if (question.mode === "url" && typeof question.url === "string" && /^https?:\/\//.test(question.url)) {
    card.append(h("p", {}, h("a", { text: `Open ${new URL(question.url).host}`, attrs: { href: question.url, target: "_blank", rel: "noopener noreferrer" } })));
  }
  const words = h("input", { attrs: { type: "text", placeholder: "Or answer in words", "aria-label": "Answer in words" } });
  if (question.mode === "form") card.append(h("p", { class: "field" }, words));
  const accept = h("button", { class: "primary", text: question.mode === "url" ? "Done" : "Accept", attrs: { type: "button" } });
  const decline = h("button", { class: "danger", text: "Decline", attrs: { type: "button" } });
  const problem = h("p", { class: "notice error", attrs: { role: "alert", hidden: "" } });
  const heard = h("p", { class: "said", attrs: { hidden: "" } });
  const buttons = h("div", { class: "buttons" }, accept, decline);
  card.append(heard, buttons, problem);
  const reveal = () => (problem.hidden ? buttons : problem).scrollIntoView({ block: "nearest" });
  const hear = (text, via, pending) => {
    heard.replaceChildren(h("span", { class: "via", text: via }), document.createTextNode(text));
    heard.classList.toggle("pending", pending);
    heard.hidden = false;
    reveal();
  };
  const settle = (text) => {
    accept.disabled = decline.disabled = true;
    card.classList.add("settled");
    card.querySelector("h3").textContent = text;
    closed();
  };
  const attempt = async (post, text) => {
    try {
      await post();
      problem.hidden = true;
      settle(text);
    } catch (err) {
      problem.textContent = err instanceof ApiError ? err.message : String(err);
      problem.hidden = false;
      reveal();
    }
  };
  const answer = (body, text) => attempt(() => send({ inputId: question.inputId, ...body }), text);
  accept.addEventListener("click", () => {
    if (words.value.trim()) return answer({ answer: words.value.trim() }, "Answered");
    const content = {};
    question.fields?.forEach((field, i) => { const v = controls[i].value(); if (v !== undefined) content[field.name] = v; });
    return answer(question.mode === "url" ? { action: "accept" } : { action: "accept", content }, "Answered");
  });
  decline.addEventListener("click", () => answer({ action: "decline" }, "Declined"));
  return {
    card, accept,
    answerWith: (post) => attempt(post, "Answered"),
    hearing: (text) => {  // the listen socket's best guess while the answer is said
      hear(text, "Hearing…", true);
      card.dataset.partials = String(Number(card.dataset.partials || 0) + 1);
    },
    heard: (text) => hear(text || "(nothing heard)", "You said", false),
  };
}
