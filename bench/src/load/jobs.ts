// Fleet job load: an agent owning every Thing is connected (WebSocket) and completes each request
// as it arrives; an operator creates one job over all the Things and polls it (readjob) until
// every request completed. Measures the job's own timestamps (hub clock) and how long a readjob
// takes while the hub is queuing (the event loop must stay responsive).

import { EnvelopeSocket } from '../lib/clients.js';
import { summarize, type LatencySummary } from '../lib/stats.js';
import { BENCH_ACTION } from '../lib/td.js';
import { sleep } from './ingest.js';

export interface JobsParams {
  ws: string;
  agent: { id: string; token: string; thingIds: string[] };
  operator: { id: string; token: string };
  timeoutMs: number;
}

interface JobView {
  status: string;
  timeCreated: string;
  timeQueued?: string;
  timeEnded?: string;
  counts: Record<string, number>;
}

export interface JobsResult {
  things: number;
  /** createjob answered (the job stored, the first slice on its way), ms. */
  createMs: number;
  /** timeCreated → timeQueued: every Thing matched and its request stored (hub clock). */
  queueMs: number;
  /** timeCreated → timeEnded: every request completed (hub clock). */
  completeMs: number;
  counts: Record<string, number>;
  status: string;
  delivered: number;
  duplicates: number;
  /** readjob round trips while the job ran: the hub answers other requests meanwhile. */
  readLatency: LatencySummary;
  timedOut: boolean;
}

export async function jobs(p: JobsParams): Promise<JobsResult> {
  const agent = await EnvelopeSocket.open(p.ws, p.agent.token);
  const delivered = new Set<string>();
  let duplicates = 0;
  agent.onPush = (message) => {
    if (message.type !== 'request' || !message.actionId) return;
    if (delivered.has(message.actionId)) {
      duplicates++;
      return;
    }
    delivered.add(message.actionId);
    agent.fire({ operation: 'updateactionstatus', actionId: message.actionId, input: { status: 'completed' } });
  };
  const subscribed = await agent.request({ operation: 'subscriberequests' });
  if ((subscribed.status ?? 500) >= 300) throw new Error(`subscriberequests: ${subscribed.status} ${subscribed.error?.detail}`);

  const operator = await EnvelopeSocket.open(p.ws, p.operator.token);
  const t0 = performance.now();
  const created = await operator.request({ operation: 'createjob', input: { operation: 'invokeaction', name: BENCH_ACTION, input: { n: 1 }, query: {} } });
  const createMs = performance.now() - t0;
  if (created.status !== 201) throw new Error(`createjob: ${created.status} ${created.error?.detail}`);
  const { jobId } = created.output as { jobId: string };

  const readLatencies: number[] = [];
  let job = created.output as JobView;
  const deadline = performance.now() + p.timeoutMs;
  while (job.status !== 'completed' && performance.now() < deadline) {
    await sleep(10);
    const t = performance.now();
    const read = await operator.request({ operation: 'readjob', input: { jobId } });
    readLatencies.push(performance.now() - t);
    job = read.output as JobView;
  }
  await sleep(300); // a late duplicate would show up here
  agent.close();
  operator.close();
  const since = (time: string | undefined) => (time ? Date.parse(time) - Date.parse(job.timeCreated) : 0);
  return {
    things: p.agent.thingIds.length,
    createMs,
    queueMs: since(job.timeQueued),
    completeMs: since(job.timeEnded),
    counts: job.counts,
    status: job.status,
    delivered: delivered.size,
    duplicates,
    readLatency: summarize(readLatencies),
    timedOut: job.status !== 'completed',
  };
}
