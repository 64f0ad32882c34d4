// A load generator process: runs one job (argv[2]) with the parameters the parent sends, sends
// back the result, and exits. Kept apart from the hub so both get their own CPU.

import { actions } from '../load/actions.js';
import { cannon, register } from '../load/directory.js';
import { e2e } from '../load/e2e.js';
import { ingest } from '../load/ingest.js';
import { jobs } from '../load/jobs.js';

// any: the parameters come over IPC untyped; each job declares the shape it expects.
// biome-ignore lint/suspicious/noExplicitAny: each job takes its own parameter type, checked at the IPC boundary by the job itself
const JOBS: Record<string, (params: any) => Promise<unknown>> = { ingest, e2e, register, cannon, actions, jobs };

process.on('disconnect', () => process.exit(0));
process.once('message', (message: unknown) => {
  const { params } = message as { params: unknown };
  const job = JOBS[process.argv[2] ?? ''];
  (job ? job(params) : Promise.reject(new Error(`unknown job ${process.argv[2]}`))).then(
    (result) => process.send?.({ type: 'result', result }, () => process.exit(0)),
    (error: Error) => process.send?.({ type: 'error', error: error.stack ?? String(error) }, () => process.exit(1)),
  );
});
