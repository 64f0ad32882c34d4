import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Inbox } from './inbox.js';

describe('Inbox', () => {
  it('returns items in arrival order, whether they came before or after next()', async () => {
    const inbox = new Inbox<number>();
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
    const inbox = new Inbox<string>();
    inbox.push('a');
    assert.equal(await inbox.waitFor((s) => s === 'a'), 'a');
    const later = inbox.waitFor((s) => s.startsWith('b'), 1000);
    inbox.push('x');
    inbox.push('bee');
    assert.equal(await later, 'bee');
    await assert.rejects(inbox.waitFor((s) => s === 'never', 20, 'the word never'), /timed out after 20 ms waiting for the word never \(3 received\)/);
  });

  it('fails pending and later waits once closed', async () => {
    const inbox = new Inbox<string>();
    const pending = inbox.next(1000);
    inbox.close(new Error('socket closed'));
    await assert.rejects(pending, /socket closed/);
    await assert.rejects(inbox.next(), /socket closed/);
  });
});
