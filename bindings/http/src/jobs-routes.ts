// Fleet jobs over HTTP: POST /jobs (201 + Location), GET /jobs (paged, X-Total-Count),
// GET /jobs/{id}, and POST /jobs/{id}/cancel. Each route is one core operation (createjob,
// listjobs, readjob, canceljob); the core decides who may do what.

import { pageParams, readJsonBody, sendListing, sendResult } from './http-io.js';
import { enc, type BindingDeps, type HttpRouter } from './route.js';

/** A job's fields around its value or action input (which the core bounds by the payload limit). */
const JOB_ENVELOPE_BYTES = 16 * 1024;

export function registerJobsRoutes(router: HttpRouter, deps: BindingDeps): void {
  const { hub } = deps;

  router.add('POST', '/jobs', {
    async handle({ req, res, client }) {
      const input = await readJsonBody(req, { maxBytes: hub.limits.maxPayloadBytes + JOB_ENVELOPE_BYTES });
      const result = await hub.handle({ operation: 'createjob', input }, { client });
      const jobId = result.ok ? (result.output as { jobId: string }).jobId : undefined;
      sendResult(res, result, jobId !== undefined ? { headers: { Location: `${deps.baseUrl()}/jobs/${enc(jobId)}` } } : {});
    },
  });

  router.add('GET', '/jobs', {
    async handle({ res, url, client }) {
      sendListing(res, await hub.handle({ operation: 'listjobs', query: pageParams(url) }, { client }));
    },
  });

  router.add('GET', '/jobs/:id', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'readjob', input: { jobId: params.id } }, { client }));
    },
  });

  // A POST, not DELETE /jobs/{id}: the job stays (cancelled, with its counts); only its pending requests go.
  router.add('POST', '/jobs/:id/cancel', {
    async handle({ res, params, client }) {
      sendResult(res, await hub.handle({ operation: 'canceljob', input: { jobId: params.id } }, { client }));
    },
  });
}
