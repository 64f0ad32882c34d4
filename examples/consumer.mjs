// A small consumer on @twinhub/client (WebSocket): reads the lamp's twin, writes its brightness,
// toggles it (waiting for the agent's answer) and prints what the twin reports afterwards.
// Usage: TWINHUB_TOKEN=<operator token> node examples/consumer.mjs [brightness]   (the hub: TWINHUB_URL)
import { connectConsumer } from '@twinhub/client';

const url = process.env.TWINHUB_URL ?? 'http://127.0.0.1:8080';
const token = process.env.TWINHUB_TOKEN;
if (!token) {
  console.error('set TWINHUB_TOKEN to an operator token (npx twinhub token create --role operator --id me)');
  process.exit(2);
}
const LAMP = 'urn:example:lamp';
const hub = await connectConsumer({ url, token });
try {
  console.log('before:', await hub.readAll(LAMP));
  const write = await hub.write(LAMP, 'brightness', Number(process.argv[2] ?? 80));
  console.log(`write queued: ${write.record.status} (${write.actionId})`);
  await write.result(10_000); // the agent applied it
  const toggle = await hub.invoke(LAMP, 'toggle');
  toggle.onStatus((record) => console.log(`toggle: ${record.status}`));
  console.log('toggle output:', await toggle.result(10_000));
  console.log('after:', await hub.readAll(LAMP));
} catch (error) {
  // A TwinhubError: status, title and detail of the hub's problem.
  console.error(`failed: ${error.status ?? ''} ${error.title ?? ''} ${error.detail ?? error.message}`);
  process.exitCode = 1;
} finally {
  await hub.close();
}
