// The limit for directory reads: a bare node:http server answering with the very bytes the hub
// sent for the same kind of request (one body for /things/{id}, one for a list query).

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveCalls } from '../lib/ipc.js';

export interface RawBody {
  contentType: string;
  base64: string;
}

// Bodies come over IPC: a page of TDs is too long for a command line.
const bodies = await new Promise<{ item: RawBody; list: RawBody }>((resolve) =>
  process.once('message', (m) => resolve((m as { params: { item: RawBody; list: RawBody } }).params)),
);
const item = { type: bodies.item.contentType, bytes: Buffer.from(bodies.item.base64, 'base64') };
const list = { type: bodies.list.contentType, bytes: Buffer.from(bodies.list.base64, 'base64') };

const server = createServer((req, res) => {
  const body = req.url?.includes('?') ? list : item;
  res.writeHead(200, { 'Content-Type': body.type, 'Content-Length': body.bytes.length });
  res.end(body.bytes);
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
serveCalls({});
process.send?.({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
