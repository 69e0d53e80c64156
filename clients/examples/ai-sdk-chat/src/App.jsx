import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport } from "ai";
import { useEffect, useState } from "react";
import { Message } from "./Message.jsx";
import { forgetChat, loadChat, saveChat } from "./storage.js";

const saved = loadChat();
const transport = new DefaultChatTransport({ api: "/api/ai-sdk/chat" });

export function App() {
  const { id, messages, sendMessage, status, stop, error } = useChat({
    id: saved.id, // Stagecast's thread: follow-up questions keep the conversation
    messages: saved.messages,
    transport,
    resume: true, // after a reload, rejoin the answer still being written
  });
  const [input, setInput] = useState("");
  const busy = status === "submitted" || status === "streaming";

  useEffect(() => saveChat(id, messages, busy), [id, messages, busy]);

  function submit(event) {
    event.preventDefault();
    if (!input.trim() || busy) return;
    sendMessage({ text: input });
    setInput("");
  }

  return (
    <main>
      <header>
        <h1>Stagecast · useChat</h1>
        <button type="button" onClick={() => { forgetChat(); location.reload(); }}>New chat</button>
      </header>
      <section className="messages" aria-live="polite">
        {messages.map((message) => <Message key={message.id} message={message} />)}
      </section>
      {error && <p className="error" role="alert">{error.message}</p>}
      <form onSubmit={submit}>
        <input
          aria-label="Question"
          value={input}
          onChange={(event) => setInput(event.target.value)}
          placeholder="ABC-12345 부품의 재고는?"
        />
        {busy ? <button type="button" onClick={stop}>Stop</button> : <button type="submit">Ask</button>}
      </form>
      <p className="status" data-status={status}>{status}</p>
    </main>
  );
}
