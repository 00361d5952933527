// The phone simulator page (/simulator): a file, not an inline script, so the page's
// Content-Security-Policy can refuse inline script (app/security_headers.py).
const $ = (id) => document.getElementById(id);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => k === "onclick" ? node.addEventListener("click", v) : node.setAttribute(k, v));
  children.forEach((c) => node.append(c));
  return node;
}
function spoken(script) {
  const lines = [];
  (script && script.actions || []).forEach((a) => {
    const line = (p) => {
      if (p.type === "say") lines.push(p.text);
      // A recording: where it comes from, then what it says (the queue's prompt text).
      if (p.type === "play") { lines.push(`▶ audio: ${p.url}`); if (p.text) lines.push(p.text); }
    };
    line(a);
    if (a.type === "gather") (a.prompt || []).forEach(line);
    if (a.type === "connect") lines.push("(connecting you to an agent)");
  });
  return lines;
}
async function act(callId, action, extra = {}) {
  $("error").textContent = "";
  const response = await fetch(`/simulator/api/calls/${callId}/${action}`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({agents_available: $("agents").checked, ...extra}),
  });
  if (!response.ok) $("error").textContent = (await response.json()).message;
  refresh();
}
const typed = {};  // digits keyed so far, per call, for a gather that takes a number
function waitingFor(script) {
  return (script && script.actions || []).find((a) => a.type === "gather");
}
function keypad(call) {
  const gather = waitingFor(call.script);
  const many = gather && gather.num_digits > 1;
  const pad = el("div", {class: "keypad"});
  const shown = el("span", {class: "typed meta"}, many ? `typed: ${typed[call.call_id] || ""}` : "");
  "123456789*0#".split("").forEach((key) =>
    pad.append(el("button", {onclick: () => {
      if (!many) return act(call.call_id, "press", {digits: key});
      if (key !== "#") { typed[call.call_id] = (typed[call.call_id] || "") + key; shown.textContent = `typed: ${typed[call.call_id]}`; return; }
      const digits = typed[call.call_id] || ""; delete typed[call.call_id];
      return act(call.call_id, "press", {digits: digits + "#"});
    }}, key)));
  pad.append(shown);
  return pad;
}
function callCard(call) {
  const who = call.direction === "in" ? `you called ${call.to} from ${call.from || "a withheld number"}`
                                      : `from ${call.from} to ${call.to}`;
  const card = el("div", {class: `call ${call.state} ${call.direction === "in" ? "inbound" : "outbound"}`, "data-call": call.call_id},
    el("div", {}, el("span", {class: "state"}, call.state.replace("_", " ")), " ",
       el("span", {class: "meta"}, who)));
  spoken(call.script).forEach((line) => card.append(el("div", {class: "say"}, line)));
  if (call.recording) {  // answered as a voicemail: what it recorded after its beep
    card.append(el("div", {class: "meta recording"}, call.recording.length
      ? `Voicemail recorded after the beep: “${call.recording.join(" ")}”` : "Voicemail: beep, recording…"));
  }
  const buttons = el("div");
  if (call.state === "ringing") {
    buttons.append(
      el("button", {class: "primary", onclick: () => act(call.call_id, "answer")}, "Answer"),
      el("button", {onclick: () => act(call.call_id, "machine")}, "Be a voicemail"),
      el("button", {onclick: () => act(call.call_id, "decline")}, "Decline"),
      el("button", {onclick: () => act(call.call_id, "busy")}, "Busy"),
      el("button", {onclick: () => act(call.call_id, "ring_out")}, "Let it ring out"));
  } else if (call.state === "answered") {
    buttons.append(keypad(call),
      el("button", {onclick: () => act(call.call_id, "silent")}, "Say nothing"),
      el("button", {onclick: () => act(call.call_id, "hang_up")}, "Hang up"));
  } else if (call.state === "holding") {
    buttons.append(el("div", {class: "say"}, "Holding: every agent is busy, you are in line."),
      el("button", {onclick: () => act(call.call_id, "hang_up")}, "Hang up"));
  } else if (call.state === "with_agent") {
    buttons.append(el("div", {class: "say"}, "You are talking to an agent."),
      el("button", {onclick: () => act(call.call_id, "hang_up")}, "Hang up"));
  }
  card.append(buttons);
  return card;
}
async function refresh() {
  const state = await (await fetch("/simulator/api/state")).json();
  if (state.calls.length) $("calls").replaceChildren(...state.calls.map(callCard));
  if (state.agents && state.agents.count) {  // simulated agents (SIMULATOR_AGENTS): busy and free
    $("agents-switch").style.display = "none";
    const desk = $("agent-desk");
    desk.hidden = false;
    const holding = state.agents.holding || [];
    desk.replaceChildren(el("div", {}, `Agents: ${state.agents.busy.length} busy, ${state.agents.free} free ` +
                                        `(each call takes ${state.agents.handle_seconds} s); ${holding.length} holding`),
      ...state.agents.busy.map((a) => el("span", {class: "agent busy", "data-call": a.call_id}, `busy with ${a.number}, ${a.seconds_left} s left`)),
      ...Array.from({length: state.agents.free}, () => el("span", {class: "agent free"}, "free")),
      ...holding.map((h) => el("span", {class: "agent holding", "data-call": h.call_id}, `${h.number} holding ${h.waited_seconds} s`)));
  }
  if (state.texts.length) $("texts").replaceChildren(...textsByNumber(state.texts));
}
// The texts grouped by the phone they are on (ours go to t.to, the person's come from
// t.from): one section per number, the number with the newest text first, each in the
// state's order (newest first).
function textsByNumber(texts) {
  const groups = new Map();
  texts.forEach((t) => {
    const number = t.direction === "out" ? t.to : t.from;
    if (!groups.has(number)) groups.set(number, []);
    groups.get(number).push(t);
  });
  return [...groups].map(([number, those]) => el("div", {class: "number", "data-number": number},
    el("h3", {}, number),
    ...those.map((t) => el("div", {class: "text"},
      el("div", {class: "meta"}, `${t.direction === "out" ? "from " + t.from : "you wrote"} · ${t.at}`), t.body))));
}
async function loadSlots() {
  const response = await fetch(`/api/v1/queues/${encodeURIComponent($("queue").value)}/slots?days=7`);
  if (!response.ok) return;
  const keep = $("slot").firstElementChild;
  $("slot").replaceChildren(keep, ...(await response.json()).slots.slice(0, 40).map((s) =>
    el("option", {value: s.start}, `${s.start.slice(0, 16).replace("T", " ")} (${s.seats_left} left)`)));
}
$("book").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {queue: $("queue").value, phone: $("phone").value, kind: $("slot").value ? "scheduled" : "asap",
                sms_consent: true};
  if ($("slot").value) body.slot_start = $("slot").value;
  const response = await fetch("/api/v1/callbacks", {method: "POST", headers: {"Content-Type": "application/json"},
                                                     body: JSON.stringify(body)});
  const answer = await response.json();
  $("booked").textContent = response.ok ? `booked ${answer.ref}, due ${answer.due_at}` : answer.message;
});
$("dial").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").textContent = "";
  const response = await fetch("/simulator/api/calls", {method: "POST", headers: {"Content-Type": "application/json"},
                                                        body: JSON.stringify({from: $("caller").value, to: $("queue-number").value})});
  if (!response.ok) $("error").textContent = (await response.json()).message;
  refresh();
});
$("queue").addEventListener("change", loadSlots);
loadSlots();
refresh();
setInterval(refresh, 1000);
$("sms").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {from: $("sms-from").value, to: $("sms-to").value, text: $("sms-text").value};
  const response = await fetch("/simulator/api/texts", {method: "POST", headers: {"Content-Type": "application/json"},
                                                        body: JSON.stringify(body)});
  const answer = await response.json();
  $("sms-sent").textContent = response.ok ? "sent" : answer.message;
  if (response.ok) $("sms-text").value = "";
  refresh();
});
