import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { captureLogs } from '../testing/index.js';
import { AUTH_FAILURE_LOG_INTERVAL_MS, AuthFailures, MAX_TRACKED_ADDRESSES } from './failures.js';

function capture() {
  const { logger, records } = captureLogs('warn');
  return { logger, lines: records };
}

describe('AuthFailures', () => {
  it('logs one line per address per interval, carrying the failures since the previous line', () => {
    const { lines, logger } = capture();
    let now = 0;
    const failures = new AuthFailures(logger, () => now);
    const failure = { remoteAddress: '10.0.0.1', binding: 'http', reason: 'unknown or revoked token' };
    for (let i = 0; i < 4; i++) failures.record(failure);
    failures.record({ ...failure, remoteAddress: '10.0.0.2' });
    assert.deepEqual(
      lines.map((l) => [l.remoteAddress, l.failures]),
      [
        ['10.0.0.1', 1],
        ['10.0.0.2', 1],
      ],
    );
    now += AUTH_FAILURE_LOG_INTERVAL_MS;
    failures.record(failure);
    assert.deepEqual(lines.at(-1)?.failures, 4, 'the three suppressed failures and this one');
  });

  it('caps the delay at the configured maximum (0: no slowdown)', () => {
    const failure = { remoteAddress: '10.0.0.1', binding: 'http', reason: 'x' };
    const off = new AuthFailures(pino({ enabled: false }), () => 0, AUTH_FAILURE_LOG_INTERVAL_MS, undefined, 0);
    assert.deepEqual(
      Array.from({ length: 5 }, () => off.record(failure)),
      [0, 0, 0, 0, 0],
    );
    const low = new AuthFailures(pino({ enabled: false }), () => 0, AUTH_FAILURE_LOG_INTERVAL_MS, undefined, 250);
    assert.deepEqual(
      Array.from({ length: 5 }, () => low.record(failure)),
      [0, 100, 200, 250, 250],
    );
  });

  it('grows the delay per address up to a cap, and starts over after a quiet minute', () => {
    let now = 0;
    const failures = new AuthFailures(pino({ enabled: false }), () => now);
    const failure = { remoteAddress: '10.0.0.1', binding: 'ws', reason: 'x' };
    const delays = Array.from({ length: 8 }, () => failures.record(failure));
    assert.deepEqual(delays, [0, 100, 200, 400, 800, 1600, 3000, 3000]);
    assert.equal(failures.record({ ...failure, remoteAddress: '10.0.0.9' }), 0, 'other addresses are not slowed');
    now += 61_000;
    assert.equal(failures.record(failure), 0);
  });

  it('remembers at most MAX_TRACKED_ADDRESSES addresses', () => {
    const failures = new AuthFailures(pino({ enabled: false }));
    for (let i = 0; i < MAX_TRACKED_ADDRESSES + 500; i++) failures.record({ remoteAddress: `addr-${i}`, binding: 'http', reason: 'x' });
    assert.equal(failures.trackedAddresses, MAX_TRACKED_ADDRESSES);
  });
});
