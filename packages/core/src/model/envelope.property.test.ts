// Property-based tests of the request envelope parser: whatever arrives on a WS frame or an MQTT
// publish (any text, any bytes, any JSON, any object with envelope-like fields), the parser either
// returns a checked request or throws a HubError with status 400/413, and valid envelopes survive a
// serialize/parse round trip unchanged.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkRequestMessage, parseRequestMessage, toErrorMessage, toResponseMessage, type RequestMessage } from './envelope.js';
import { HubError, badRequest } from './errors.js';
import { ALL_OPERATIONS, type HubRequest } from './operations.js';

const LIMIT = 4096;
const RUNS = { numRuns: 300 };

/** Runs `parse`; passes when it returns, fails unless what it throws is a 400/413 HubError. */
function parsesOrRefuses(parse: () => unknown): void {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof HubError, `threw a ${(error as Error)?.constructor?.name}: ${String(error)}`);
    assert.ok(error.status === 400 || error.status === 413, `status ${error.status}: ${error.message}`);
    assert.equal(typeof error.problem.detail, 'string');
    assert.ok(error.problem.detail.length > 0, 'the problem says what is wrong');
  }
}

const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }));
const jsonText = fc.oneof(fc.json(), fc.json({ stringUnit: 'binary' }));
const operation = fc.constantFrom(...ALL_OPERATIONS);
/** Values of every JSON type plus a few JS-only ones, for fields that expect one specific type. */
const fieldValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined), anyString, fc.double(), fc.integer());

/** Objects that look like envelopes: known field names (mostly) with values of random types. */
const envelopeLike = fc.dictionary(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom('type', 'operation', 'thingId', 'name', 'input', 'actionId', 'names', 'ifVersion', 'ttl', 'query', 'correlationId'),
    },
    { weight: 1, arbitrary: fc.string() },
  ),
  fc.oneof({ weight: 2, arbitrary: fieldValue }, { weight: 1, arbitrary: operation }, { weight: 1, arbitrary: fc.constant('request') }),
  { maxKeys: 8 },
);

const nonEmpty = fc.string({ minLength: 1, unit: 'binary' });
const count = fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e9, noNaN: true }));

/** Envelopes that satisfy every rule of the parser. */
const validEnvelope: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    type: fc.constant('request'),
    operation,
    thingId: nonEmpty,
    name: nonEmpty,
    actionId: nonEmpty,
    correlationId: nonEmpty,
    input: fc.jsonValue({ maxDepth: 3 }),
    names: fc.array(fc.string({ unit: 'binary' }), { maxLength: 5 }),
    ifVersion: count,
    ttl: count,
    query: fc.record(
      {
        agent: fc.string(),
        type: fc.string(),
        title: fc.string(),
        tags: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
        offset: fc.nat(),
        limit: fc.nat(),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['operation'] },
);

describe('parseRequestMessage (property-based)', () => {
  it('refuses or accepts any text, never throwing anything but a 400/413 HubError', () => {
    fc.assert(
      fc.property(anyString, (text) => parsesOrRefuses(() => parseRequestMessage(text, LIMIT))),
      RUNS,
    );
  });

  it('refuses or accepts any bytes (also invalid UTF-8, also views into larger buffers)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(16), (bytes, offset) => {
        const backing = new Uint8Array(offset + bytes.length + 7).fill(0x7b); // '{' around the view
        backing.set(bytes, offset);
        const view = backing.subarray(offset, offset + bytes.length);
        parsesOrRefuses(() => parseRequestMessage(view, LIMIT));
        parsesOrRefuses(() => parseRequestMessage(Buffer.from(view), LIMIT));
      }),
      RUNS,
    );
  });

  it('refuses or accepts any JSON text', () => {
    fc.assert(
      fc.property(jsonText, (text) => parsesOrRefuses(() => parseRequestMessage(text, LIMIT))),
      RUNS,
    );
  });

  it('refuses or accepts any envelope-like object, and what it accepts is well-typed', () => {
    fc.assert(
      fc.property(envelopeLike, (object) => {
        let request: RequestMessage | undefined;
        parsesOrRefuses(() => (request = parseRequestMessage(JSON.stringify(object), 1 << 20)));
        if (!request) return;
        assert.equal(request.type, 'request');
        assert.ok((ALL_OPERATIONS as readonly string[]).includes(request.operation));
        for (const key of ['thingId', 'name', 'actionId', 'correlationId'] as const) {
          if (request[key] !== undefined) assert.ok(typeof request[key] === 'string' && request[key].length > 0, key);
        }
        if (request.names !== undefined) assert.ok(request.names.every((n) => typeof n === 'string'));
        for (const key of ['ifVersion', 'ttl'] as const) {
          if (request[key] !== undefined) assert.ok(Number.isFinite(request[key]) && request[key] >= 0, key);
        }
        if (request.query !== undefined) assert.ok(typeof request.query === 'object' && request.query !== null && !Array.isArray(request.query));
      }),
      { numRuns: 500 },
    );
  });

  it('checkRequestMessage refuses or accepts any JavaScript value (already parsed by a binding)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), envelopeLike), (value) => parsesOrRefuses(() => checkRequestMessage(value))),
      RUNS,
    );
  });

  it('round-trips every valid envelope unchanged', () => {
    fc.assert(
      fc.property(validEnvelope, (envelope) => {
        const text = JSON.stringify(envelope);
        const parsed = parseRequestMessage(text, Buffer.byteLength(text));
        // What went over the wire is what comes out (JSON-normalized: -0 is 0, etc.); type defaults to "request".
        assert.deepEqual(parsed, { type: 'request', ...JSON.parse(text) });
        // And parsing the parsed request again is stable.
        assert.deepEqual(parseRequestMessage(JSON.stringify(parsed), 1 << 20), parsed);
      }),
      RUNS,
    );
  });

  it('refuses exactly the messages over the byte limit with 413 (bytes, not characters)', () => {
    fc.assert(
      fc.property(validEnvelope, fc.integer({ min: -3, max: 3 }), (envelope, delta) => {
        const text = JSON.stringify(envelope);
        const size = Buffer.byteLength(text);
        const limit = Math.max(0, size + delta);
        try {
          parseRequestMessage(text, limit);
          assert.ok(size <= limit, `accepted ${size} bytes over a limit of ${limit}`);
        } catch (error) {
          assert.ok(error instanceof HubError);
          assert.equal(error.status, 413);
          assert.ok(size > limit, `refused ${size} bytes within a limit of ${limit}`);
        }
      }),
      RUNS,
    );
  });

  it('builds response envelopes that are JSON, echo the request and carry the problem on failure', () => {
    fc.assert(
      fc.property(validEnvelope, fc.boolean(), fc.jsonValue({ maxDepth: 2 }), nonEmpty, (envelope, succeed, output, detail) => {
        const request = parseRequestMessage(JSON.stringify(envelope), 1 << 20) as HubRequest;
        const result = succeed ? { ok: true as const, status: 200, output } : badRequest(detail).toResult();
        const response = toResponseMessage(request, result);
        const wire = JSON.parse(JSON.stringify(response)) as Record<string, unknown>;
        assert.equal(wire.type, 'response');
        assert.equal(wire.operation, request.operation);
        assert.equal(wire.correlationId, request.correlationId);
        assert.equal(wire.thingId, request.thingId);
        assert.equal(wire.status, result.status);
        if (succeed) assert.equal(wire.error, undefined);
        else assert.deepEqual(wire.error, { status: 400, title: 'Bad Request', detail });
        const error = toErrorMessage(badRequest(detail).problem, request.correlationId);
        assert.deepEqual(JSON.parse(JSON.stringify(error)), {
          type: 'response',
          operation: 'unknown',
          status: 400,
          error: { status: 400, title: 'Bad Request', detail },
          ...(request.correlationId ? { correlationId: request.correlationId } : {}),
        });
      }),
      { numRuns: 100 },
    );
  });
});
