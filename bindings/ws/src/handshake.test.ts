import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { bearerTokenOf, selectSubprotocol, WS_SUBPROTOCOL, WTP_SUBPROTOCOL } from './handshake.js';

const upgrade = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('bearerTokenOf', () => {
  it('takes the token from the Authorization header, scheme case-insensitive', () => {
    assert.deepEqual(bearerTokenOf(upgrade({ authorization: 'Bearer abc.DEF-123' })), { token: 'abc.DEF-123' });
    assert.deepEqual(bearerTokenOf(upgrade({ authorization: 'bearer xyz' })), { token: 'xyz' });
  });

  it('prefers the Authorization header over a bearer subprotocol', () => {
    const result = bearerTokenOf(upgrade({ authorization: 'Bearer fromheader', 'sec-websocket-protocol': 'twinhub.v1, bearer.fromprotocol' }));
    assert.deepEqual(result, { token: 'fromheader' });
  });

  it('refuses a non-bearer Authorization header with 401', () => {
    const result = bearerTokenOf(upgrade({ authorization: 'Basic dXNlcjpwYXNz' }));
    assert.ok('problem' in result);
    assert.equal(result.problem.status, 401);
  });

  it('takes the token from the browser subprotocol pair', () => {
    assert.deepEqual(bearerTokenOf(upgrade({ 'sec-websocket-protocol': 'twinhub.v1, bearer.tok_42' })), { token: 'tok_42' });
    assert.deepEqual(bearerTokenOf(upgrade({ 'sec-websocket-protocol': 'bearer.tok_42,twinhub.v1' })), { token: 'tok_42' });
  });

  it('takes the token offered together with webthingprotocol', () => {
    assert.deepEqual(bearerTokenOf(upgrade({ 'sec-websocket-protocol': 'webthingprotocol, bearer.tok_42' })), { token: 'tok_42' });
  });

  it('refuses a bearer subprotocol without twinhub.v1 or webthingprotocol (selecting it would echo the token)', () => {
    for (const offered of ['bearer.tok_42', 'bearer.tok_42, mqtt']) {
      const result = bearerTokenOf(upgrade({ 'sec-websocket-protocol': offered }));
      assert.ok('problem' in result);
      assert.equal(result.problem.status, 400);
      assert.match(result.problem.detail, /twinhub\.v1.*webthingprotocol/);
    }
  });

  it('refuses two bearer subprotocols and an empty token', () => {
    const two = bearerTokenOf(upgrade({ 'sec-websocket-protocol': 'twinhub.v1, bearer.a, bearer.b' }));
    assert.ok('problem' in two);
    assert.equal(two.problem.status, 400);
    const empty = bearerTokenOf(upgrade({ 'sec-websocket-protocol': 'twinhub.v1, bearer.' }));
    assert.ok('problem' in empty);
    assert.equal(empty.problem.status, 401);
  });

  it('reports a missing token as 401 and says how to send one', () => {
    const result = bearerTokenOf(upgrade({ 'sec-websocket-protocol': 'twinhub.v1' }));
    assert.ok('problem' in result);
    assert.equal(result.problem.status, 401);
    assert.match(result.problem.detail, /Authorization: Bearer/);
  });
});

describe('selectSubprotocol', () => {
  it('selects twinhub.v1 and never a bearer protocol', () => {
    assert.equal(selectSubprotocol(new Set(['bearer.secret', WS_SUBPROTOCOL])), WS_SUBPROTOCOL);
    assert.equal(selectSubprotocol(new Set(['bearer.secret'])), false);
    assert.equal(selectSubprotocol(new Set(['mqtt'])), false);
  });

  it("selects webthingprotocol when offered, honouring the client's order of preference (RFC 6455 §4.1)", () => {
    assert.equal(selectSubprotocol(new Set([WTP_SUBPROTOCOL])), WTP_SUBPROTOCOL);
    assert.equal(selectSubprotocol(new Set(['bearer.secret', WTP_SUBPROTOCOL])), WTP_SUBPROTOCOL);
    assert.equal(selectSubprotocol(new Set(['mqtt', WTP_SUBPROTOCOL, WS_SUBPROTOCOL])), WTP_SUBPROTOCOL);
    assert.equal(selectSubprotocol(new Set([WS_SUBPROTOCOL, WTP_SUBPROTOCOL])), WS_SUBPROTOCOL);
  });
});
