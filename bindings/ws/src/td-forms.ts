// The WebSocket forms of twin TDs: every affordance points at the hub's one WS endpoint; the
// envelope (thingId, name) says which Thing and affordance a message is about. The Web Thing
// Protocol is announced by one Thing-level form only, so twin TDs do not carry every form twice.

import type { AffordanceKind, Form, TwinTdContributor } from '@twinhub/core';
import { WS_SUBPROTOCOL, WTP_SUBPROTOCOL } from './handshake.js';

/** Same scheme name as the HTTP binding uses, so the merged twin TD has one bearer definition. */
export const BEARER_SECURITY_SCHEME = 'bearer_sc';

const THING_OPS = [
  'readallproperties',
  'readmultipleproperties',
  'observeallproperties',
  'unobserveallproperties',
  'queryallactions',
  'subscribeallevents',
  'unsubscribeallevents',
];

/** Builds the 'ws' contributor; `endpointUrl` is read each time a TD is built. */
export function wsTwinTdContributor(endpointUrl: () => string): TwinTdContributor {
  const form = (op: string[], subprotocol = WS_SUBPROTOCOL): Form => ({ href: endpointUrl(), subprotocol, contentType: 'application/json', op });
  return {
    name: 'ws',
    securityDefinitions: () => ({ [BEARER_SECURITY_SCHEME]: { scheme: 'bearer', in: 'header', name: 'Authorization' } }),
    // [wtp-protocol-handshake] a WTP endpoint is a ws(s) form with "subprotocol": "webthingprotocol";
    // the affordance operations work on it too (docs/ws.md), but only the twinhub.v1 forms list them.
    thingForms: () => [form(THING_OPS), form(THING_OPS, WTP_SUBPROTOCOL)],
    affordanceForms: (kind, _thingId, _name, affordance) => {
      const ops = affordanceOps(kind, affordance);
      return ops.length === 0 ? [] : [form(ops)];
    },
  };
}

function affordanceOps(kind: AffordanceKind, affordance: Record<string, unknown>): string[] {
  switch (kind) {
    case 'property': {
      const ops: string[] = [];
      // A write-only property is never read or observed through the twin (the core refuses it).
      if (affordance.writeOnly !== true) ops.push('readproperty');
      if (affordance.readOnly !== true) ops.push('writeproperty');
      if (affordance.observable === true && affordance.writeOnly !== true) ops.push('observeproperty', 'unobserveproperty');
      return ops;
    }
    case 'action':
      return ['invokeaction', 'queryaction', 'cancelaction'];
    case 'event':
      return ['subscribeevent', 'unsubscribeevent'];
  }
}

/**
 * The ws(s):// URL of `path` on the server listening at `listening`, as this process reaches it: an
 * unspecified address (0.0.0.0, ::) becomes loopback. Public URLs for forms come from the hub.
 */
export function listeningWsUrl(path: string, listening: { address: string; port: number } | undefined, secure: boolean): string {
  const scheme = secure ? 'wss' : 'ws';
  if (listening === undefined) return `${scheme}://localhost${path}`;
  const { address } = listening;
  const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '[::1]' : address.includes(':') ? `[${address}]` : address;
  return `${scheme}://${host}:${listening.port}${path}`;
}
