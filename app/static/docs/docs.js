// Renders /openapi.json as a reference page. Text from the document is always set as text
// (textContent), never as HTML; everything is loaded from this server (the pages' CSP).
const toc = document.getElementById('toc');
const reference = document.getElementById('reference');

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const refName = (ref) => ref.split('/').pop();

function typeOf(schema = {}) {
  if (schema.$ref) return refName(schema.$ref);
  if (schema.anyOf || schema.oneOf) return (schema.anyOf || schema.oneOf).map(typeOf).join(' | ');
  if (schema.type === 'array') return `${typeOf(schema.items)}[]`;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.contentSchema) return `text/event-stream of ${typeOf(schema.contentSchema)}`;
  return schema.type || 'any';
}

function schemaLink(schema) {
  const name = typeOf(schema);
  const target = schema.$ref ? refName(schema.$ref) : schema.contentSchema?.$ref ? refName(schema.contentSchema.$ref) : null;
  return target ? el('a', { href: `#schema-${target}`, textContent: name }) : el('code', { textContent: name });
}

function table(headings, rows) {
  return el('table', {}, el('tr', {}, ...headings.map((h) => el('th', { textContent: h }))), ...rows);
}

function operation(path, method, op) {
  const id = `op-${op.operationId}`;
  toc.append(el('a', { href: `#${id}`, textContent: `${method.toUpperCase()} ${path}` }));
  const section = el('section', { id },
    el('h3', {}, el('span', { className: `method ${method}`, textContent: method.toUpperCase() }),
      el('span', { className: 'path', textContent: path })),
    el('p', { textContent: op.summary || '' }));
  if (op.parameters?.length) {
    section.append(table(['parameter', 'in', 'type', 'required'], op.parameters.map((p) =>
      el('tr', {}, el('td', {}, el('code', { textContent: p.name })), el('td', { textContent: p.in }),
        el('td', {}, schemaLink(p.schema || {})), el('td', { textContent: p.required ? 'yes' : '' })))));
  }
  const body = op.requestBody?.content?.['application/json'];
  if (body) section.append(el('p', {}, 'Body (JSON): ', schemaLink(body.schema)));
  section.append(table(['status', 'meaning', 'answer'], Object.entries(op.responses).map(([status, r]) => {
    const [type, media] = Object.entries(r.content || {})[0] || [];
    return el('tr', {}, el('td', { textContent: status }), el('td', { textContent: r.description }),
      el('td', {}, type ? el('span', { className: 'muted', textContent: `${type} ` }) : null, media?.schema ? schemaLink(media.schema) : null));
  })));
  return section;
}

function schemaSection(name, schema) {
  const section = el('section', { id: `schema-${name}` }, el('h3', { textContent: name }));
  if (schema.description) section.append(el('p', { textContent: schema.description }));
  const required = new Set(schema.required || []);
  if (schema.properties) {
    section.append(table(['field', 'type', 'required', 'about'], Object.entries(schema.properties).map(([field, prop]) =>
      el('tr', {}, el('td', {}, el('code', { textContent: field })), el('td', {}, schemaLink(prop)),
        el('td', { textContent: required.has(field) ? 'yes' : '' }), el('td', { textContent: prop.description || '' })))));
  } else if (schema.oneOf || schema.anyOf) {
    section.append(el('p', {}, 'One of: ', ...(schema.oneOf || schema.anyOf).flatMap((s, i) => [i ? ', ' : '', schemaLink(s)])));
  }
  return section;
}

async function render() {
  const response = await fetch('/openapi.json', { headers: { Accept: 'application/json' } });
  const doc = await response.json();
  reference.replaceChildren(el('h2', { textContent: 'Operations' }));
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) reference.append(operation(path, method, op));
  }
  reference.append(el('h2', { textContent: 'Schemas' }));
  for (const [name, schema] of Object.entries(doc.components.schemas)) reference.append(schemaSection(name, schema));
}

render().catch((error) => reference.replaceChildren(el('p', { textContent: `Could not load /openapi.json: ${error}` })));
