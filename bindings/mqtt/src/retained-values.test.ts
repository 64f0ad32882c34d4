// Retained property values served from the twin state (retained-values.ts): what each subscription
// filter gets, and that the broker's persistence never stores a value (issue #16, scale).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { AedesPublishPacket } from 'aedes';
import { createHub, type Hub, type HubRequest } from '@twinhub/core';
import { MemoryStore } from '@twinhub/storage-memory';
import pino from 'pino';
import { type RetainedPersistence, serveRetainedValuesFromState } from './retained-values.js';
import { LAMP, OTHER, td } from './test-fixture.js';
import { topics } from './topics.js';

/** Stands in for aedes' memory persistence: records what it is asked to store, streams what it holds. */
class StoredRetained implements RetainedPersistence {
  readonly stored: AedesPublishPacket[] = [];
  storeRetained(packet: AedesPublishPacket, done?: (error?: Error | null) => void): void {
    this.stored.push(packet);
    done?.(null);
  }
  createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(this.stored.filter((packet) => patterns.includes(packet.topic)));
  }
}

describe('retained property values from the twin state', () => {
  let hub: Hub;
  const persistence = new StoredRetained();
  const owner = { client: { id: 'agent-a', role: 'agent' as const } };
  const expectOk = async (request: HubRequest) => {
    const result = await hub.handle(request, owner);
    assert.ok(result.ok, JSON.stringify(result));
  };
  /** What a subscription to `filters` gets, as topic → value. */
  const retained = async (...filters: string[]) => {
    const out: Record<string, unknown> = {};
    for await (const packet of persistence.createRetainedStreamCombi(filters) as AsyncIterable<AedesPublishPacket>) {
      assert.equal(packet.retain, true);
      out[packet.topic] = packet.payload.length === 0 ? '(cleared)' : JSON.parse(packet.payload.toString());
    }
    return out;
  };

  before(async () => {
    hub = await createHub({ store: new MemoryStore() });
    serveRetainedValuesFromState(persistence, hub, pino({ level: 'silent' }));
    await expectOk({ operation: 'updateTD', input: td(LAMP, 'Lamp') });
    await expectOk({ operation: 'updateTD', input: td(OTHER, 'Fan') });
    await expectOk({ operation: 'updateproperty', thingId: LAMP, name: 'brightness', input: 12 });
    await expectOk({ operation: 'updateproperty', thingId: LAMP, name: 'status', input: 'off' });
    await expectOk({ operation: 'updateproperty', thingId: OTHER, name: 'brightness', input: 3 });
  });
  after(async () => {
    await hub.close();
  });

  it('never stores a property value in the broker, and stores any other retained topic', async () => {
    const value = {
      cmd: 'publish',
      topic: topics.propertyValue(LAMP, 'brightness'),
      payload: Buffer.from('12'),
      qos: 0,
      retain: true,
      dup: false,
    } as AedesPublishPacket;
    const other = { ...value, topic: 'elsewhere/topic' } as AedesPublishPacket;
    let called = 0;
    await new Promise<void>((resolve) => persistence.storeRetained(value, () => resolve(void called++)));
    persistence.storeRetained(other, () => called++);
    assert.equal(called, 2, 'both stores complete');
    assert.deepEqual(
      persistence.stored.map((p) => p.topic),
      ['elsewhere/topic'],
    );
    assert.deepEqual(await retained('elsewhere/topic'), { 'elsewhere/topic': 12 }, 'what the broker stored still streams');
  });

  it('answers each filter with the current values of the observable properties it matches', async () => {
    const lamp = topics.propertyValue(LAMP, 'brightness');
    const fan = topics.propertyValue(OTHER, 'brightness');
    // The lamp's id holds '/' and '+': one percent-encoded level, so a filter names it exactly.
    assert.deepEqual(await retained(`things/${encodeURIComponent(LAMP)}/properties/+`), { [lamp]: 12 }, 'status is not observable: never retained');
    assert.deepEqual(await retained('things/+/properties/brightness'), { [lamp]: 12, [fan]: 3 });
    assert.deepEqual(await retained('#'), { [lamp]: 12, [fan]: 3 });
    assert.deepEqual(await retained('things/#', `things/${encodeURIComponent(OTHER)}/properties/brightness`), { [lamp]: 12, [fan]: 3 }, 'once per topic');
    assert.deepEqual(await retained(`${lamp}/#`), { [lamp]: 12 }, "'#' matches its parent level");
    assert.deepEqual(await retained('things/+/events/+', 'clients/#', 'things', '+', 'things/urn%3Anone/properties/+'), {});

    await expectOk({ operation: 'updateproperty', thingId: OTHER, name: 'brightness', input: 4 });
    assert.deepEqual(await retained(fan), { [fan]: 4 }, 'always the current value');
    await expectOk({ operation: 'deleteTD', thingId: LAMP });
    assert.deepEqual(await retained('things/+/properties/+'), { [fan]: 4 }, 'a deleted Thing has none');
  });
});
