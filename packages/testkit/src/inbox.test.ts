import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Inbox } from './inbox.js';

describe('Inbox', () => {
  it('returns items in arrival order, whether they came before or after next()', async () => {
    const inbox = new Inbox<number>({ keepHistory: true });
    inbox.push(1);
    const first = inbox.next();
    const second = inbox.next();
    const third = inbox.next();
    inbox.push(2);
    inbox.push(2);
    assert.deepEqual([await first, await second, await third], [1, 2, 2], 'equal items are still told apart by arrival');
    assert.deepEqual(inbox.items, [1, 2, 2]);
  });

  it('waits for a matching item, finds one already there, and fails after the timeout naming what it awaited', async () => {
    const inbox = new Inbox<string>({ keepHistory: true });
    inbox.push('a');
    assert.equal(await inbox.waitFor((s) => s === 'a'), 'a');
    const later = inbox.waitFor((s) => s.startsWith('b'), 1000);
    inbox.push('x');
    inbox.push('bee');
    assert.equal(await later, 'bee');
    await assert.rejects(
      inbox.waitFor((s) => s === 'never', 20, 'word never'),
      /no word never within 20 ms \(3 received\)/,
    );
  });

  it('fails pending and later waits once closed', async () => {
    const inbox = new Inbox<string>();
    const pending = inbox.next(1000);
    inbox.close(new Error('socket closed'));
    await assert.rejects(pending, /socket closed/);
    await assert.rejects(inbox.next(), /socket closed/);
  });
});

describe('Inbox.take', () => {
  it('takes the oldest matching item not taken yet, leaving others for next()', async () => {
    const inbox = new Inbox<string>({ keepHistory: true });
    inbox.push('a1');
    inbox.push('b1');
    assert.equal(await inbox.take((s) => s.startsWith('b')), 'b1');
    const b2 = inbox.take((s) => s.startsWith('b'), 1000);
    const next = inbox.next(1000);
    inbox.push('b2');
    assert.deepEqual([await b2, await next], ['b2', 'a1'], 'a waiting taker gets the new match; next() gets the oldest untaken');
    await assert.rejects(
      inbox.take((s) => s === 'b1', 20),
      /no matching message within 20 ms/,
      'a taken item is not taken twice',
    );
    assert.equal(await inbox.waitFor((s) => s === 'b1'), 'b1', 'but waitFor still sees it');
  });
});

describe('Inbox without a history', () => {
  it('releases what was taken', async () => {
    const inbox = new Inbox<string>();
    inbox.push('a');
    inbox.push('b');
    assert.equal(await inbox.next(), 'a');
    assert.deepEqual(inbox.items, ['b']);
    assert.equal(await inbox.next(), 'b');
    const waiting = inbox.next(1000);
    assert.deepEqual(inbox.items, []);
    inbox.push('c');
    assert.equal(await waiting, 'c');
    assert.deepEqual(inbox.items, [], 'an item handed to a waiter is not kept');
  });
});
