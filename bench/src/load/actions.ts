// Action queue load: an operator queues actions for an agent that is offline; then the agent
// connects (WebSocket), subscribes to its requests and completes each one as it arrives. Every
// actionId is tracked: delivered once, completed once, seen completed by the operator.

import { EnvelopeSocket } from '../lib/clients.js';
import { summarize, type LatencySummary } from '../lib/stats.js';
import { sleep } from './ingest.js';

export interface ActionsParams {
  ws: string;
  agent: { id: string; token: string; thingIds: string[] };
  operator: { id: string; token: string };
  count: number;
  /** Invocations in flight while queueing. */
  window: number;
  timeoutMs: number;
}

export interface ActionsResult {
  queued: number;
  queueFailures: number;
  queueMs: number;
  queueLatency: LatencySummary;
  /** From the agent starting to connect until the last of the queued requests reached it. */
  deliverAllMs: number;
  /** Until the hub confirmed every completion report. */
  completeAllMs: number;
  delivered: number;
  duplicates: number;
  lost: number;
  unexpected: number;
  completed: number;
  operatorSawCompleted: number;
  timedOut: boolean;
}

export async function actions(p: ActionsParams): Promise<ActionsResult> {
  const operator = await EnvelopeSocket.open(p.ws, p.operator.token);
  const operatorCompleted = new Set<string>();
  operator.onPush = (message) => {
    const record = message.data as { actionId?: string; status?: string } | undefined;
    if (message.operation === 'actionstatus' && record?.status === 'completed' && record.actionId) operatorCompleted.add(record.actionId);
  };
  const queued = new Set<string>();
  const queueLatencies: number[] = [];
  let queueFailures = 0;
  let next = 0;
  const queueStart = performance.now();
  await Promise.all(
    Array.from({ length: p.window }, async () => {
      while (next < p.count) {
        const i = next++;
        const t = performance.now();
        const response = await operator.request({
          operation: 'invokeaction',
          thingId: p.agent.thingIds[i % p.agent.thingIds.length],
          name: 'run',
          input: { n: i },
        });
        queueLatencies.push(performance.now() - t);
        const actionId = (response.output as { actionId?: string } | undefined)?.actionId;
        if (response.status !== undefined && response.status < 300 && actionId) queued.add(actionId);
        else queueFailures++;
      }
    }),
  );
  const queueMs = performance.now() - queueStart;

  const delivered = new Set<string>();
  let duplicates = 0;
  let unexpected = 0;
  let completed = 0;
  let deliverAllMs = 0;
  let completeAllMs = 0;
  const connectStart = performance.now();
  const agent = await EnvelopeSocket.open(p.ws, p.agent.token);
  const pendingReports: Promise<void>[] = [];
  agent.onPush = (message) => {
    if (message.type !== 'request' || !message.actionId) return;
    const { actionId } = message;
    if (!queued.has(actionId)) unexpected++;
    if (delivered.has(actionId)) {
      duplicates++;
      return;
    }
    delivered.add(actionId);
    if (delivered.size === queued.size) deliverAllMs = performance.now() - connectStart;
    pendingReports.push(
      agent.request({ operation: 'updateactionstatus', actionId, input: { status: 'completed', output: { ok: true } } }).then((response) => {
        if (response.status === 200 || response.status === 204) completed++;
        if (completed === queued.size) completeAllMs = performance.now() - connectStart;
      }),
    );
  };
  const subscribed = await agent.request({ operation: 'subscriberequests' });
  if ((subscribed.status ?? 500) >= 300) throw new Error(`subscriberequests: ${subscribed.status} ${subscribed.error?.detail}`);
  const deadline = performance.now() + p.timeoutMs;
  while (performance.now() < deadline && (completed < queued.size || operatorCompleted.size < queued.size)) await sleep(20);
  await sleep(300); // a late duplicate would show up here
  agent.close();
  operator.close();
  let lost = 0;
  for (const id of queued) if (!delivered.has(id)) lost++;
  return {
    queued: queued.size,
    queueFailures,
    queueMs,
    queueLatency: summarize(queueLatencies),
    deliverAllMs,
    completeAllMs,
    delivered: delivered.size,
    duplicates,
    lost,
    unexpected,
    completed,
    operatorSawCompleted: operatorCompleted.size,
    timedOut: completed < queued.size,
  };
}
