import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectMqtt, connectRefusal, quiet } from './testing.js';
import { LAMP, startHub, type Credentials, type Fixture } from './test-fixture.js';
import { topics } from './topics.js';

describe('MQTT binding (embedded): persistent sessions are bounded and expire', () => {
  let fixture: Fixture;
  before(async () => {
    fixture = await startHub({ broker: { maxPersistentSessionsPerClient: 5, sessionExpirySeconds: 1 } });
  });
  after(async () => {
    await fixture.close();
  });

  /** Opens a persistent session with one subscription and leaves it offline; returns whether the broker still had it. */
  const visit = async (who: Credentials, clientId: string) => {
    const client = await connectMqtt(fixture.url, { ...who, clientId, clean: false, subscribeOwnTopics: false });
    if (!client.sessionPresent) await client.subscribe(topics.propertyValue(LAMP, 'brightness'));
    await client.close();
    return client.sessionPresent;
  };

  it('keeps at most the configured number of persistent sessions per client, evicting the oldest offline one', async () => {
    for (let i = 0; i < 15; i++) assert.equal(await visit(fixture.tokens.viewer, `viewer-session-${i}`), false);
    assert.equal(await visit(fixture.tokens.viewer, 'viewer-session-14'), true, 'the newest sessions stay');
    assert.equal(await visit(fixture.tokens.viewer, 'viewer-session-0'), false, 'the oldest were freed');
    // Another client's sessions are not affected by the viewer's.
    assert.equal(await visit(fixture.tokens.operator, 'operator-session'), false);
    assert.equal(await visit(fixture.tokens.operator, 'operator-session'), true);
  });

  it('frees an offline persistent session after the session expiry, and its MQTT client id with it', async () => {
    assert.equal(await visit(fixture.tokens.agentB, 'expiring'), false);
    assert.equal(await visit(fixture.tokens.agentB, 'expiring'), true);
    assert.equal(await connectRefusal(fixture.url, { ...fixture.tokens.viewer, clientId: 'expiring' }), 2, 'owned while it lives');
    await quiet(1300);
    assert.equal(await visit(fixture.tokens.viewer, 'expiring'), false, 'expired: gone, and free for anyone');
  });
});
