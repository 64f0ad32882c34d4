// A small consumer over REST: reads the lamp's twin, writes its brightness, toggles it (waiting for
// the agent's answer) and prints what the twin reports afterwards.
// Usage: TWINHUB_TOKEN=<operator token> node examples/consumer.mjs [brightness]   (the hub: TWINHUB_URL)
const base = process.env.TWINHUB_URL ?? 'http://127.0.0.1:8080';
const token = process.env.TWINHUB_TOKEN;
if (!token) {
  console.error('set TWINHUB_TOKEN to an operator token (npx twinhub token create --role operator --id me)');
  process.exit(2);
}
const lamp = `${base}/things/${encodeURIComponent('urn:example:lamp')}`;
const call = async (method, path, body, headers = {}) => {
  const res = await fetch(`${lamp}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
};

console.log('before:', await call('GET', '/properties'));
const write = await call('PUT', '/properties/brightness', Number(process.argv[2] ?? 80));
console.log(`write queued: ${write.status} (${write.actionId})`);
// Prefer: wait=N (RFC 7240) waits for the agent to complete the action and answers with its output.
console.log('toggle output:', await call('POST', '/actions/toggle', undefined, { Prefer: 'wait=5' }));
console.log('after:', await call('GET', '/properties'));
