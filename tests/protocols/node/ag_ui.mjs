// Drives Stagecast's AG-UI endpoint with @ag-ui/client's HttpAgent.runAgent, which checks
// every event against the 1.0 schema and its ordering rules (verifyEvents) as it applies them.
//
//   node ag_ui.mjs <endpoint url> <thread id> <question> [answer to interrupts]
//
// Prints one JSON line: the event types, the run's result, its outcome, the agent's messages,
// the custom events' names, and the error if the run failed. With an answer, a run that ends
// with an interrupt outcome is followed by a second run whose resume entries answer every
// interrupt; its report is under "resumed".
import { HttpAgent } from "@ag-ui/client";

const [url, threadId, question, answer] = process.argv.slice(2);
const agent = new HttpAgent({ url, threadId });
agent.addMessage({ id: `u-${Date.now()}`, role: "user", content: question });

async function run(resume) {
  const out = { types: [], custom: [], steps: [], clientRunId: `client-run-${Date.now()}` };
  try {
    const { result } = await agent.runAgent(
      { runId: out.clientRunId, ...(resume ? { resume } : {}) },
      {
        onEvent: ({ event }) => {
          out.types.push(event.type);
        },
        onRunStartedEvent: ({ event }) => {
          out.started = { threadId: event.threadId, runId: event.runId, metadata: event.metadata };
        },
        onStepStartedEvent: ({ event }) => {
          out.steps.push(event.stepName);
        },
        onCustomEvent: ({ event }) => {
          out.custom.push(event.name);
        },
        onRunFinishedEvent: ({ event }) => {
          out.outcome = event.outcome ?? null;
        },
        onRunErrorEvent: ({ event }) => {
          out.runError = { message: event.message, code: event.code };
        },
      },
    );
    out.result = result ?? null;
  } catch (error) {
    out.error = String(error?.message ?? error);
  }
  out.messages = agent.messages.map((m) => ({
    role: m.role,
    content: m.content,
    toolCalls: m.toolCalls,
    toolCallId: m.toolCallId,
  }));
  return out;
}

const out = await run();
if (answer !== undefined && out.outcome?.type === "interrupt") {
  const resume = out.outcome.interrupts.map((i) => ({ interruptId: i.id, status: "resolved", payload: answer }));
  out.resumed = await run(resume);
}
console.log(JSON.stringify(out));
