// Drives Stagecast's AG-UI endpoint with @ag-ui/client's HttpAgent.runAgent, which checks
// every event against the 1.0 schema and its ordering rules (verifyEvents) as it applies them.
//
//   node ag_ui.mjs <endpoint url> <thread id> <question> [resume JSON]
//
// Prints one JSON line: the event types, the run's result, its outcome, the agent's messages,
// the custom events' names, and the error if the run failed.
import { HttpAgent } from "@ag-ui/client";

const [url, threadId, question, resume] = process.argv.slice(2);
const agent = new HttpAgent({ url, threadId });
agent.addMessage({ id: `u-${Date.now()}`, role: "user", content: question });

const out = { types: [], custom: [], steps: [] };
const runId = `client-run-${Date.now()}`;
try {
  const { result } = await agent.runAgent(
    { runId, ...(resume ? { resume: JSON.parse(resume) } : {}) },
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
        out.finishedResult = event.result ?? null;
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
out.clientRunId = runId;
out.messages = agent.messages.map((m) => ({
  role: m.role,
  content: m.content,
  toolCalls: m.toolCalls,
  toolCallId: m.toolCallId,
}));
console.log(JSON.stringify(out));
