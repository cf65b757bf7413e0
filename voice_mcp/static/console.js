// The console's script: a file, so the page's CSP needs no 'unsafe-inline'.
// The token lives in sessionStorage: gone when the tab closes, not shared across tabs.
const $ = (id) => document.getElementById(id);
const tokenBox = $("token");
tokenBox.value = sessionStorage.getItem("voice-mcp-token") || "";
tokenBox.addEventListener("change", () => { sessionStorage.setItem("voice-mcp-token", tokenBox.value); loadExamples(); });
let conversationId = null, pendingId = null;

function line(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  $("stages").appendChild(li);
}

async function stream(path, body) {
  $("answer").hidden = true;
  $("answer").textContent = "";
  const response = await fetch(path, {
    method: "POST",
    headers: {"Authorization": "Bearer " + tokenBox.value, "Content-Type": "application/json",
              "Accept": "text/event-stream"},
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const err = await response.json().catch(() => ({error: {message: response.statusText}}));
    line(err.error.code + ": " + err.error.message, "error");
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      handle(block);
    }
  }
}

function handle(block) {
  let event = "message", data = "";
  for (const raw of block.split(/\r?\n/)) {
    if (raw.startsWith(":")) continue;
    const [key, ...rest] = raw.split(":");
    const value = rest.join(":").replace(/^ /, "");
    if (key === "event") event = value; else if (key === "data") data += value;
  }
  if (!data) return;
  const payload = JSON.parse(data);
  if (event === "progress") line(payload.message);
  else if (event === "delta") {  // the answer as it is written: show it at once
    $("answer").textContent += payload.text;
    $("answer").hidden = false;
  }
  else if (event === "error") line(payload.code + ": " + payload.message, "error");
  else if (event === "done") finish(payload);
}

function finish(done) {
  conversationId = done.conversationId;
  line(done.status + " in " + done.totalExecutionTime + " ms", "done");
  $("answer").textContent = done.response;
  $("answer").hidden = false;
  if (done.status === "confirmation_required" && done.confirmation) {
    pendingId = done.confirmation.confirmationId;
    $("actions").replaceChildren(...done.confirmation.actions.map((a) => {
      const li = document.createElement("li");
      li.textContent = `${a.service}.${a.tool} ${JSON.stringify(a.arguments)} (${a.risk}: ${a.reason})`;
      return li;
    }));
    $("confirm").style.display = "block";
  }
}

async function decide(approved) {
  $("confirm").style.display = "none";
  const id = pendingId; pendingId = null;
  await stream("/api/voice/confirm", {confirmationId: id, approved});
}

async function loadExamples() {
  if (!tokenBox.value) return;
  const response = await fetch("/api/voice/examples", {headers: {"Authorization": "Bearer " + tokenBox.value}});
  if (!response.ok) return;
  const {examples} = await response.json();
  $("examples").textContent = examples.length ? "Try: " + examples.join(" · ") : "";
}

$("ask").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("stages").replaceChildren();
  const body = {query: $("query").value};
  if (conversationId) body.conversationId = conversationId;
  await stream("/api/voice/llm/stream", body);
});
$("approve").addEventListener("click", () => decide(true));
$("decline").addEventListener("click", () => decide(false));
loadExamples();
