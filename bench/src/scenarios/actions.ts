// Scenario 4, action queue: actions queued for an offline agent, then the agent connects over
// WebSocket and completes each; time to deliver them all, and none lost or duplicated.

import { runLoad } from '../lib/children.js';
import { startHubProc } from '../lib/hub-handle.js';
import { int, pcts } from '../lib/stats.js';
import type { ScenarioReport } from '../lib/report.js';
import type { ActionsParams, ActionsResult } from '../load/actions.js';
import type { ScenarioContext } from './context.js';

const PER_THING = 500;

export async function actionsScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const count = ctx.quick ? 1000 : 10_000;
  const hub = await startHubProc(ctx.profile ? { profile: 'actions' } : {});
  try {
    const setup = await hub.setup({ agents: [{ id: 'actions-agent', things: count / PER_THING }], operators: ['actions-operator'] });
    const r = await hub.measure('queue', () =>
      runLoad<ActionsResult>(
        'actions',
        { ws: hub.urls.ws, agent: setup.agents[0], operator: setup.operators[0], count, window: 100, timeoutMs: 120_000 } satisfies ActionsParams,
        200_000,
      ),
    );
    ctx.log(
      `  ${int(r.queued)} queued in ${int(r.queueMs)} ms; all delivered ${int(r.deliverAllMs)} ms after connecting; lost ${r.lost}, duplicated ${r.duplicates}`,
    );
    return {
      scenario: 'actions',
      title: `4. Action queue: ${int(count)} actions for an offline agent (${PER_THING} per Thing), delivered over WebSocket`,
      params: { count, perThing: PER_THING, invokeWindow: 100 },
      table: {
        headers: [
          'queued (failed)',
          'queueing actions/s',
          'invoke ms p50/p95/p99',
          'connect → all delivered',
          'connect → all completed',
          'delivered',
          'lost',
          'duplicated',
          'completed (seen by operator)',
        ],
        rows: [
          [
            `${int(r.queued)} (${r.queueFailures})`,
            int(r.queued / (r.queueMs / 1000)),
            pcts(r.queueLatency),
            r.deliverAllMs ? `${int(r.deliverAllMs)} ms` : 'not all',
            r.completeAllMs ? `${int(r.completeAllMs)} ms` : 'not all',
            int(r.delivered),
            String(r.lost),
            String(r.duplicates),
            `${int(r.completed)} (${int(r.operatorSawCompleted)})`,
          ],
        ],
      },
      targets: [
        { target: 'none lost', measured: `${r.lost} lost of ${int(r.queued)}`, met: r.lost === 0 && r.delivered === r.queued },
        { target: 'none duplicated', measured: `${r.duplicates} duplicates`, met: r.duplicates === 0 },
      ],
      notes: [
        "An operator queues the actions over one WebSocket (100 in flight). The agent then connects, sends subscriberequests and answers each request with updateactionstatus completed as it arrives; the operator's session counts the completed notifications.",
      ],
      data: r,
    };
  } finally {
    await hub.close();
  }
}
