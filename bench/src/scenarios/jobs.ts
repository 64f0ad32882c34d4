// Scenario 6, fleet jobs: one job invoking an action on every one of 10,000 Things (1,000 with
// --quick) while their agent is connected and completes each request as it arrives; time to
// queue them all, time until all completed, and whether the hub stayed responsive meanwhile.

import { runLoad } from '../lib/children.js';
import { startHubProc } from '../lib/hub-handle.js';
import { int, pcts } from '../lib/stats.js';
import type { ScenarioReport } from '../lib/report.js';
import type { JobsParams, JobsResult } from '../load/jobs.js';
import type { ScenarioContext } from './context.js';

export async function jobsScenario(ctx: ScenarioContext): Promise<ScenarioReport> {
  const things = ctx.quick ? 1000 : 10_000;
  const hub = await startHubProc(ctx.profile ? { profile: 'jobs' } : {});
  try {
    const setup = await hub.setup({ agents: [{ id: 'jobs-agent', things }], operators: ['jobs-operator'] });
    const r = await hub.measure('job', () =>
      runLoad<JobsResult>('jobs', { ws: hub.urls.ws, agent: setup.agents[0], operator: setup.operators[0], timeoutMs: 120_000 } satisfies JobsParams, 200_000),
    );
    ctx.log(`  ${int(r.counts.queued)} queued in ${int(r.queueMs)} ms; all completed after ${int(r.completeMs)} ms; readjob ${pcts(r.readLatency)} ms`);
    return {
      scenario: 'jobs',
      title: `6. Fleet job: one action on each of ${int(things)} Things, their agent online and completing`,
      params: { things, sliceSize: 500 },
      table: {
        headers: [
          'matched',
          'createjob answered',
          'all queued',
          'queueing requests/s',
          'all completed',
          'completed',
          'readjob ms p50/p95/p99 (max) meanwhile',
          'duplicated',
        ],
        rows: [
          [
            int(r.counts.matched ?? 0),
            `${int(r.createMs)} ms`,
            `${int(r.queueMs)} ms`,
            int((r.counts.queued ?? 0) / Math.max(r.queueMs / 1000, 0.001)),
            r.timedOut ? 'not all' : `${int(r.completeMs)} ms`,
            int(r.counts.completed ?? 0),
            `${pcts(r.readLatency)} (${int(r.readLatency.max)})`,
            String(r.duplicates),
          ],
        ],
      },
      targets: [
        {
          target: 'every Thing gets one request, all completed',
          measured: `${int(r.counts.completed ?? 0)} of ${int(things)}`,
          met: r.counts.completed === things && r.duplicates === 0,
        },
      ],
      notes: [
        "The operator creates the job over WebSocket (createjob, query {} = every Thing) and polls readjob every 10 ms; queue and completion times are the job's own timestamps (timeCreated → timeQueued, → timeEnded). The agent answers each request with updateactionstatus completed without waiting for the answer.",
      ],
      data: r,
    };
  } finally {
    await hub.close();
  }
}
