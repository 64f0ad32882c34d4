// A small lamp agent over WebSocket: registers examples/lamp.td.json, reports its values, and
// answers the requests the hub queues for it (property writes and the toggle action).
// It logs on stderr. Usage: TWINHUB_AGENT_TOKEN=<agent token> node examples/agent.mjs   (the hub: TWINHUB_URL, as for the CLI)
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const url = `${(process.env.TWINHUB_URL ?? 'http://127.0.0.1:8080').replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
const token = process.env.TWINHUB_AGENT_TOKEN;
if (!token) {
  console.error('set TWINHUB_AGENT_TOKEN to an agent token (npx twinhub token create --role agent --id lamp-agent)');
  process.exit(2);
}
const td = JSON.parse(readFileSync(new URL('./lamp.td.json', import.meta.url), 'utf8'));
const lamp = { brightness: 50, on: false };

const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
let next = 0;
const pending = new Map();
/** Sends a request envelope and resolves with its response. */
const request = (envelope) =>
  new Promise((resolve) => {
    const correlationId = `agent-${++next}`;
    pending.set(correlationId, resolve);
    ws.send(JSON.stringify({ type: 'request', ...envelope, correlationId }));
  });

ws.on('message', async (data) => {
  const message = JSON.parse(String(data));
  if (message.type === 'response') {
    pending.get(message.correlationId)?.(message);
    pending.delete(message.correlationId);
    return;
  }
  if (message.type !== 'request') return;
  // A queued request for this agent: do it, report the new state, then close the request.
  const { operation, thingId, name, input, actionId } = message;
  let output;
  if (operation === 'writeproperty' && name === 'brightness') lamp.brightness = input;
  if (operation === 'invokeaction' && name === 'toggle') output = lamp.on = !lamp.on;
  await request({ operation: 'updateproperty', thingId, input: { ...lamp } });
  await request({ operation: 'updateactionstatus', actionId, input: { status: 'completed', ...(output !== undefined ? { output } : {}) } });
  console.error(`${operation} ${name}: done (brightness ${lamp.brightness}, on ${lamp.on})`);
});

ws.on('open', async () => {
  const registered = await request({ operation: 'updateTD', input: td });
  if (registered.status >= 300) throw new Error(`registration refused: ${JSON.stringify(registered.error)}`);
  await request({ operation: 'updateproperty', thingId: td.id, input: { ...lamp } });
  await request({ operation: 'subscriberequests' });
  console.error(`agent ready: ${td.id} registered, waiting for requests`);
});
ws.on('close', (code, reason) => {
  console.error(`connection closed (${code} ${reason})`);
  process.exit(code === 1000 ? 0 : 1);
});
ws.on('error', (error) => console.error(`agent: ${error.message}`));
process.on('SIGINT', () => ws.close(1000));
process.on('SIGTERM', () => ws.close(1000));
