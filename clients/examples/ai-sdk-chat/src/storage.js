// The chat's id (Stagecast's thread) and its finished messages, kept across reloads.
// An answer still streaming is left out: after a reload, useChat({resume: true}) asks
// Stagecast for the live answer, which is replayed from its start.
const KEY = "stagecast-ai-sdk-chat";

export function loadChat() {
  const saved = JSON.parse(localStorage.getItem(KEY) ?? "null");
  return saved ?? { id: crypto.randomUUID(), messages: [] };
}

export function saveChat(id, messages, streaming) {
  const last = messages.at(-1);
  const settled = streaming && last?.role === "assistant" ? messages.slice(0, -1) : messages;
  localStorage.setItem(KEY, JSON.stringify({ id, messages: settled }));
}

export function forgetChat() {
  localStorage.removeItem(KEY);
}
