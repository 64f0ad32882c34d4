// A small lamp agent on @twinhub/client (WebSocket): registers examples/lamp.td.json, reports its
// values, and answers the requests the hub queues for it (brightness writes and the toggle action).
// It reconnects by itself and keeps reports made while offline. It logs on stderr.
// Usage: TWINHUB_AGENT_TOKEN=<agent token> node examples/agent.mjs   (the hub: TWINHUB_URL, as for the CLI)
import { readFileSync } from 'node:fs';
import { connectAgent } from '@twinhub/client';

const url = process.env.TWINHUB_URL ?? 'http://127.0.0.1:8080';
const token = process.env.TWINHUB_AGENT_TOKEN;
if (!token) {
  console.error('set TWINHUB_AGENT_TOKEN to an agent token (npx twinhub token create --role agent --id lamp-agent)');
  process.exit(2);
}
const td = JSON.parse(readFileSync(new URL('./lamp.td.json', import.meta.url), 'utf8'));
const lamp = { brightness: 50, on: false };

const agent = await connectAgent({ url, token, onWarning: (message) => console.error(`agent: ${message}`) });
agent.onState((state) => console.error(`agent: ${state}`));
await agent.register(td);
await agent.report(td.id, { ...lamp });

// A write: apply it; the client reports the value back and completes the request.
agent.onWrite(td.id, 'brightness', (value) => {
  lamp.brightness = value;
  console.error(`writeproperty brightness: done (brightness ${lamp.brightness}, on ${lamp.on})`);
});
// An action: its return value is the output (a throw would fail the request).
agent.onAction(td.id, 'toggle', async () => {
  lamp.on = !lamp.on;
  await agent.report(td.id, { on: lamp.on });
  console.error(`invokeaction toggle: done (brightness ${lamp.brightness}, on ${lamp.on})`);
  return lamp.on;
});
console.error(`agent ready: ${td.id} registered, waiting for requests`);

const stop = async () => {
  await agent.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
