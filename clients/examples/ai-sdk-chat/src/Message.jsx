// One message of the chat. Stagecast's parts: data-progress (one per stage, updated in
// place), source-document / source-url, text, dynamic-tool (the agent's own tools),
// data-table and data-chart.

export function Message({ message }) {
  if (message.role === "user") {
    return <div className="message user">{textOf(message)}</div>;
  }
  const stages = message.parts.filter((part) => part.type === "data-progress");
  const sources = message.parts.filter((part) => part.type.startsWith("source-"));
  const tools = message.parts.filter((part) => part.type === "dynamic-tool");
  const table = message.parts.find((part) => part.type === "data-table");
  return (
    <div className="message assistant">
      <ol className="stages">
        {stages.map(({ id, data }) => (
          <li key={id} data-stage={id} data-status={data.status}>
            {data.status === "completed" ? "✓" : "…"} {data.message}
          </li>
        ))}
      </ol>
      {tools.map((tool) => (
        <p key={tool.toolCallId} className="tool" data-state={tool.state}>
          {tool.toolName}({JSON.stringify(tool.input)}) → {JSON.stringify(tool.output ?? tool.errorText ?? "…")}
        </p>
      ))}
      <p className="answer">{textOf(message)}</p>
      {table && <Table table={table.data} />}
      {sources.length > 0 && (
        <ul className="sources">
          {sources.map((source) => (
            <li key={source.sourceId}>
              {source.url ? <a href={source.url}>{source.title}</a> : source.title}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Table({ table }) {
  const columns = table.columns ?? Object.keys(table.rows?.[0] ?? {});
  return (
    <table>
      <thead>
        <tr>{columns.map((column) => <th key={column}>{column}</th>)}</tr>
      </thead>
      <tbody>
        {(table.rows ?? []).map((row, index) => (
          <tr key={index}>
            {columns.map((column, at) => <td key={column}>{String(Array.isArray(row) ? row[at] : row[column])}</td>)}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function textOf(message) {
  return message.parts.filter((part) => part.type === "text").map((part) => part.text).join("");
}
