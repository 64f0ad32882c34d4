import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestRecord } from '@twinhub/core';
import { actionStatusOf, parseWtpRequest, wtpProblem } from './web-thing-protocol.js';
import { WtpSubscriptions } from './wtp-subscriptions.js';

const parse = (message: unknown, maxBytes = 10_000) => parseWtpRequest(Buffer.from(JSON.stringify(message)), maxBytes);
const base = { messageType: 'request', messageID: 'c370da58-69ae-4e83-bb5a-ac6cfb2fed54', thingID: 'urn:t' };

describe('parseWtpRequest', () => {
  it("takes the draft's readproperty example as it stands, ignoring members it does not use", () => {
    const parsed = parse({ ...base, operation: 'readproperty', name: 'on', correlationID: '5afb', lastNotificationID: 'x' });
    assert.deepEqual(parsed, { request: { operation: 'readproperty', thingID: 'urn:t', name: 'on', correlationID: '5afb' } });
  });

  it('keeps a null written value and an action input', () => {
    assert.deepEqual(parse({ ...base, operation: 'writeproperty', name: 'on', value: null }), {
      request: { operation: 'writeproperty', thingID: 'urn:t', name: 'on', value: null },
    });
    assert.deepEqual(parse({ ...base, operation: 'invokeaction', name: 'fade', input: { level: 1 } }), {
      request: { operation: 'invokeaction', thingID: 'urn:t', name: 'fade', input: { level: 1 } },
    });
  });

  it('refuses with 400 and keeps what addresses the error response', () => {
    const parsed = parse({ ...base, operation: 'readmultipleproperties', names: [], correlationID: 'k' });
    assert.ok('problem' in parsed);
    assert.equal(parsed.problem.status, 400);
    assert.deepEqual(parsed.address, { thingID: 'urn:t', operation: 'readmultipleproperties', correlationID: 'k' });
    for (const bad of [[], 'text', { ...base, operation: 7 }, { ...base, operation: 'readproperty', name: 'on', correlationID: 5 }]) {
      const result = parse(bad);
      assert.ok('problem' in result && result.problem.status === 400, JSON.stringify(bad));
    }
  });

  it('refuses an oversize message with 413 before parsing it', () => {
    const result = parse({ ...base, operation: 'readproperty', name: 'x'.repeat(100) }, 50);
    assert.ok('problem' in result);
    assert.equal(result.problem.status, 413);
  });
});

describe('wtpProblem and actionStatusOf', () => {
  it("gives the draft's common errors their type URI and leaves others as the core made them", () => {
    assert.equal(wtpProblem({ status: 404, title: 'Not Found', detail: 'd' }).type, 'https://w3c.github.io/web-thing-protocol/errors#404');
    assert.equal(wtpProblem({ status: 409, title: 'Conflict', detail: 'd' }).type, undefined);
  });

  it('maps request states onto pending, running, completed and failed', () => {
    const record = { actionId: 'a', timeRequested: 't0', status: 'delivered' } as RequestRecord;
    assert.deepEqual(actionStatusOf(record), { actionID: 'a', state: 'pending', timeRequested: 't0' });
    const expired = actionStatusOf({ ...record, status: 'expired', timeEnded: 't1', error: { status: 504, title: 'Expired', detail: 'd' } });
    assert.deepEqual(expired, { actionID: 'a', state: 'failed', timeRequested: 't0', timeEnded: 't1', error: { status: 504, title: 'Expired', detail: 'd' } });
  });
});

describe('WtpSubscriptions', () => {
  it('undoes a refused subscription without leaving state behind, and keeps one a later request replaced', () => {
    const subscriptions = new WtpSubscriptions();
    const undo = subscriptions.subscribe('property', 'urn:t', 'x', 'c1');
    assert.deepEqual(subscriptions.route('property', 'urn:t', 'x'), { operation: 'observeproperty', correlationID: 'c1' });
    undo();
    assert.equal(subscriptions.route('property', 'urn:t', 'x'), undefined);
    assert.deepEqual(subscriptions.unsubscribeAll('property', 'urn:t'), []);

    const stale = subscriptions.subscribeAll('event', 'urn:t', 'c2');
    subscriptions.subscribeAll('event', 'urn:t', 'c3');
    stale();
    assert.deepEqual(subscriptions.route('event', 'urn:t', 'e'), { operation: 'subscribeallevents', correlationID: 'c3' });
  });
});
