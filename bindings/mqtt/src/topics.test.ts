import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeLevel, encodeLevel, parseTopic, topicMatches, topics } from './topics.js';

describe('MQTT topic scheme', () => {
  it('encodes ids so they never add levels or wildcards, and parses them back', () => {
    for (const id of ['urn:dev:ops:1', 'a/b', 'x+y', 'hash#', 'ünï cødé', '%41', "it's (a) *test*!"]) {
      const topic = topics.propertySet(id, `p/${id}`);
      assert.equal(topic.split('/').length, 5, topic);
      assert.ok(!topic.includes('+') && !topic.includes('#'), topic);
      assert.deepEqual(parseTopic(topic), { kind: 'propertySet', thingId: id, name: `p/${id}` });
      // Forms carry the topic as a URL path: it must come out of URL parsing unchanged.
      assert.equal(new URL(`mqtt://127.0.0.1:1883/${topic}`).pathname.slice(1), topic);
    }
  });

  it('routes every topic of the scheme', () => {
    assert.deepEqual(parseTopic('things/t/properties/p'), { kind: 'propertyValue', thingId: 't', name: 'p' });
    assert.deepEqual(parseTopic('things/t/properties/p/reported'), { kind: 'propertyReported', thingId: 't', name: 'p' });
    assert.deepEqual(parseTopic('things/t/actions/a'), { kind: 'action', thingId: 't', name: 'a' });
    assert.deepEqual(parseTopic('things/t/events/e'), { kind: 'event', thingId: 't', name: 'e' });
    assert.deepEqual(parseTopic('things/t/events/e/reported'), { kind: 'eventReported', thingId: 't', name: 'e' });
    assert.deepEqual(parseTopic('agents/agent-1/requests'), { kind: 'agentRequests', clientId: 'agent-1' });
    for (const kind of ['requests', 'responses', 'notifications', 'errors']) {
      assert.equal(parseTopic(`clients/c%40x/${kind}`)?.kind, `client${kind[0].toUpperCase()}${kind.slice(1)}`);
    }
  });

  it('rejects topics outside the scheme and non-canonical spellings', () => {
    for (const topic of [
      'foo/bar',
      'things/t/properties/p/',
      'things/t/properties/p/set/x',
      'things/t/actions/a/set',
      'things//properties/p',
      'things/t/constructor/p',
      'things/t/properties/p/constructor',
      'things/%74/properties/p', // 't' spelled %74
      'things/a%2fb/properties/p', // lower-case escape
      'things/%E0%A4%A/properties/p', // broken escape
      'clients/c/other',
      'clients/c/__proto__',
      'agents/a/responses',
      '$SYS/broker/clients',
    ]) {
      assert.equal(parseTopic(topic), undefined, topic);
    }
    assert.equal(decodeLevel(encodeLevel('a/b')), 'a/b');
    assert.equal(decodeLevel('a%2fb'), undefined);
    assert.equal(decodeLevel(''), undefined);
  });

  it('matches subscription filters like a broker', () => {
    assert.ok(topicMatches('#', 'things/t/properties/p'));
    assert.ok(topicMatches('things/+/properties/+', 'things/t/properties/p'));
    assert.ok(!topicMatches('things/+/properties/+', 'things/t/properties/p/set'));
    assert.ok(topicMatches('things/#', 'things'));
    assert.ok(!topicMatches('#', '$SYS/x'));
    assert.ok(topicMatches('clients/c/responses', 'clients/c/responses'));
    assert.ok(!topicMatches('clients/c/responses', 'clients/c/errors'));
  });
});
