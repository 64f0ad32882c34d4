import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { ROUTE_DESCRIPTIONS } from './openapi.js';
import { startHttpHub, type HttpHubFixture } from './testing.js';

describe('GET /openapi.json', () => {
  let fx: HttpHubFixture;
  let document: { openapi: string; paths: Record<string, Record<string, { summary: string; security: unknown[] }>> };
  before(async () => {
    fx = await startHttpHub();
    const res = await fx.request('GET', '/openapi.json', { token: null });
    assert.equal(res.status, 200, 'served without a token: it describes the API, no data');
    document = res.body as typeof document;
  });
  after(() => fx.close());

  it('is a valid OpenAPI 3.1 document (checked by swagger-parser)', async () => {
    assert.equal(document.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(document) as never);
  });

  it('lists exactly the routes the router serves, each with its description, and no stale description', () => {
    const served = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{([A-Za-z]+)\}/g, ':$1')}`),
    );
    assert.deepEqual([...served].sort(), Object.keys(ROUTE_DESCRIPTIONS).sort(), 'a route without a description, or a description without a route');
    for (const [key, { summary }] of Object.entries(ROUTE_DESCRIPTIONS)) {
      const [method, pattern] = key.split(' ');
      assert.equal(document.paths[pattern.replace(/:([A-Za-z]+)/g, '{$1}')][method.toLowerCase()].summary, summary);
    }
  });

  it('says which routes need a bearer token', () => {
    assert.deepEqual(document.paths['/health'].get.security, []);
    assert.deepEqual(document.paths['/things/{id}'].put.security, [{ bearer: [] }]);
  });
});
