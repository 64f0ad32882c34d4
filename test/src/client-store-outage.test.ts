// @twinhub/client against a hub whose store refuses writes for a while (its NATS cluster or disk
// unavailable): the hub answers 503 over a live link, and the agent's reports and status reports
// must go through once the store takes writes again, with no reconnect to set them moving.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHttpBinding } from '@twinhub/binding-http';
import { attachWsBinding } from '@twinhub/binding-ws';
import { connectAgent, connectConsumer, type AgentClient, type ConsumerClient } from '@twinhub/client';
import { eventually, flakyMemoryStore, lampTd, startFixture } from '@twinhub/testkit';

const LAMP = 'urn:dev:ops:store-outage-lamp';

describe('@twinhub/client while the hub’s store refuses writes', () => {
  const flaky = flakyMemoryStore();
  /** Batches the store refused (the hub answered those writes 503). */
  let refused = 0;
  const store = {
    ...flaky.store,
    batch: (operations: Parameters<typeof flaky.store.batch>[0]) =>
      flaky.store.batch(operations).catch((error: unknown) => {
        refused += 1;
        throw error;
      }),
  };
  let fixture: Awaited<ReturnType<typeof startHub>>;
  let agent: AgentClient;
  let consumer: ConsumerClient;

  function startHub() {
    return startFixture({
      hub: { store },
      bindings: (hub) => {
        const http = createHttpBinding({ hub });
        return [http, attachWsBinding({ hub, server: http.server })] as const;
      },
    });
  }

  before(async () => {
    fixture = await startHub();
    agent = await connectAgent({ url: fixture.urls.http, token: fixture.tokens.agent, onWarning: () => undefined });
    consumer = await connectConsumer({ url: fixture.urls.http, token: fixture.tokens.operator, onWarning: () => undefined });
    await agent.register(lampTd(LAMP));
  });

  after(async () => {
    await consumer?.close();
    await agent?.close();
    await fixture?.close();
  });

  it('sends a report the hub refused with 503 again once the store is back, in order', async () => {
    flaky.failing = 'unavailable';
    const refusedFirst = agent.report(LAMP, { status: 'one' });
    const queuedBehind = agent.report(LAMP, { status: 'two' });
    let sent = false;
    void Promise.all([refusedFirst, queuedBehind]).then(
      () => (sent = true),
      () => undefined, // a refusal leaves `sent` false: the wait below fails and says so
    );
    // The hub answered 503 (nothing stored) and the link stays up.
    await eventually(() => refused >= 1, 'the store refusing the report');
    assert.equal(agent.state, 'connected');
    flaky.failing = false;
    await eventually(() => sent, 'both reports accepted', 10_000);
    assert.equal(await consumer.read(LAMP, 'status'), 'two');
    assert.equal(agent.stats.reconnects, 0);
  });
});
