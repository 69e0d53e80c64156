// Drives Stagecast's UI message stream with the `ai` package's own client code:
// DefaultChatTransport (which validates every part against the SDK's strict schema) and
// readUIMessageStream (which builds the assistant message the way useChat does).
//
//   [AGENT=<name>] [RESUME=<json answer>] [RESUME_BASE=<url>] node ai_sdk.mjs <package: ai | ai5 | ai5latest> <base url> <chat id> <question> [reload-after-deltas]
//
// Prints one JSON line: the parts' types, the final message, the errors the stream reported
// and, with reload-after-deltas, what was seen before the "reload", the answer read through
// reconnectToStream (sent to RESUME_BASE when given: another host), and what a second
// reconnect got once the answer had ended (null: 204).
const [pkg, base, chatId, question, reloadAfter] = process.argv.slice(2);
const { DefaultChatTransport, readUIMessageStream } = await import(pkg);

const body = {
  ...(process.env.AGENT ? { agent: process.env.AGENT } : {}),
  ...(process.env.RESUME ? { resume: JSON.parse(process.env.RESUME) } : {}),
};
const transport = new DefaultChatTransport({ api: `${base}/api/ai-sdk/chat`, body });
const resumeTransport = new DefaultChatTransport({
  api: `${process.env.RESUME_BASE || base}/api/ai-sdk/chat`,
  body,
});
const errors = [];
const userMessage = { id: `u-${Date.now()}`, role: "user", parts: [{ type: "text", text: question }] };

async function consume(stream, stopAfterDeltas) {
  const [forMessage, forTypes] = stream.tee();
  const types = [];
  const collecting = (async () => {
    const reader = forTypes.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      types.push(value.type);
      if (stopAfterDeltas && types.filter((t) => t === "text-delta").length >= stopAfterDeltas) {
        return;
      }
    }
  })();
  let message;
  const building = (async () => {
    for await (const snapshot of readUIMessageStream({
      stream: forMessage,
      onError: (error) => errors.push(error.message),
    })) {
      message = snapshot;
    }
  })();
  await collecting;
  if (stopAfterDeltas) building.catch(() => {}); // the abort that follows ends it with an error
  else await building;
  return { types, message };
}

const abort = new AbortController();
const stream = await transport.sendMessages({
  chatId,
  messages: [userMessage],
  trigger: "submit-message",
  messageId: undefined,
  abortSignal: abort.signal,
});
const out = {};
if (reloadAfter) {
  const first = await consume(stream, Number(reloadAfter));
  abort.abort(); // the page goes away mid-answer
  out.before = { types: first.types, messageId: first.message?.id, text: textOf(first.message) };
  const resumed = await resumeTransport.reconnectToStream({ chatId });
  if (resumed === null) throw new Error("reconnectToStream got 204 while the answer was live");
  Object.assign(out, await consume(resumed));
  out.after = await resumeTransport.reconnectToStream({ chatId });
} else {
  Object.assign(out, await consume(stream));
}
out.text = textOf(out.message);
out.errors = errors;
console.log(JSON.stringify(out));

function textOf(message) {
  return (message?.parts ?? []).filter((p) => p.type === "text").map((p) => p.text).join("");
}
