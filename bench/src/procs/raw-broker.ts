// The limit for MQTT ingest: a bare aedes broker (same version as the hub's, default in-memory
// persistence, no hooks) on 127.0.0.1, in its own process like the hub.

import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { serveCalls } from '../lib/ipc.js';

const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

serveCalls({
  stats() {
    const cpu = process.cpuUsage();
    return { rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed, cpuMs: (cpu.user + cpu.system) / 1000 };
  },
});
process.send?.({ type: 'ready', url: `mqtt://127.0.0.1:${port}` });
