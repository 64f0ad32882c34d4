// Measures a NATS store's start-up (open time and RSS of a fresh process) over 100k single-record
// commits, before and after compaction, and the compaction's own cost, on a local 3-node cluster.
// Run: `node storage/nats/dist/startup-bench.js [commits]` (figures go to docs/storage.md by hand).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NatsStore } from './index.js';
import { startNatsCluster } from './testing.js';

/** In a child process: open the store, print the open time and the RSS once open. */
async function openOnce(servers: string[], stream: string): Promise<void> {
  const started = performance.now();
  const store = await NatsStore.open({ servers, stream, compaction: false, timeoutMs: 60_000 });
  const ms = performance.now() - started;
  let records = 0;
  for await (const _ of store.bucket('twins').entries()) records++;
  console.log(JSON.stringify({ ms: Math.round(ms), rssMB: Math.round(process.memoryUsage().rss / 2 ** 20), records }));
  await store.close();
}

function measureOpen(servers: string[], stream: string): { ms: number; rssMB: number; records: number } {
  const child = spawnSync(
    process.execPath,
    [...(process.env.PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), fileURLToPath(import.meta.url), 'open', servers.join(','), stream],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout.trim().split('\n').pop() as string);
}

async function main(): Promise<void> {
  const commits = Number(process.argv[2] ?? 100_000);
  const cluster = await startNatsCluster({ size: 3 });
  try {
    const stream = 'bench';
    const writer = await NatsStore.open({ servers: cluster.servers, stream, compaction: false, timeoutMs: 30_000 });
    const value = JSON.stringify({ temperature: 21.5, humidity: 40, status: 'ok', pad: 'x'.repeat(40) });
    // 64 writes in flight: each is its own commit (one message), as a property report is.
    for (let i = 0; i < commits; i += 64) {
      const writes = [];
      for (let j = i; j < Math.min(i + 64, commits); j++) writes.push(writer.batch([{ bucket: 'twins', type: 'put', key: `twin-${j}`, value }]));
      await Promise.all(writes);
    }
    const before = [measureOpen(cluster.servers, stream), measureOpen(cluster.servers, stream)];
    const rssBefore = process.memoryUsage().rss;
    const result = await writer.compact();
    const rssAfter = process.memoryUsage().rss;
    const after = [measureOpen(cluster.servers, stream), measureOpen(cluster.servers, stream)];
    console.log(JSON.stringify({ commits, before, compaction: { ...result, rssGrowthMB: Math.round((rssAfter - rssBefore) / 2 ** 20) }, after }, null, 1));
    await writer.close();
  } finally {
    await cluster.stop();
  }
}

if (process.argv[2] === 'open') await openOnce((process.argv[3] as string).split(','), process.argv[4] as string);
else await main();
