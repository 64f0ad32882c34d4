// The HTTP binding's contribution to twin TDs: forms (absolute hrefs at the hub) for every
// affordance and the Thing-level operations, all secured with the bearer scheme.
//
// Shaped for node-wot 0.8.16, which picks the first form whose op matches: observe/subscribe offer
// long polling first (node-wot's EventSource sends no token), then SSE. Forms carry no `security`
// of their own: they use the Thing-level default, which is this binding's bearer_sc when the HTTP
// contributor is added first (as the hub does). node-wot 0.8.16 cannot sign with a form-level
// scheme: it hands the client the whole credential array instead of one credential.
//
// History (docs/history.md): the first form of a readable property and of an event carries a
// `twinhub:historyForm`, the form of the history query. Not a form of its own: TD 1.1 fixes the
// list of `op` values (§5.3.4.2) and its JSON Schema refuses others, so an extension op lives in
// the extension term, where consumers that do not know it simply ignore it.

import { TWINHUB_VOCABULARY, type AffordanceKind, type Form, type TwinTdContributor } from '@twinhub/core';
import { enc } from './route.js';

export const BEARER_SCHEME = 'bearer_sc';

export interface FormOptions {
  /** Absolute base URL without trailing slash. */
  baseUrl(): string;
  /** The `Prefer: wait=N` put in invokeaction forms. */
  syncActionMaxWaitSeconds: number;
}

const JSON_TYPE = 'application/json';

export function createHttpTdContributor(options: FormOptions): TwinTdContributor {
  const thing = (thingId: string) => `${options.baseUrl()}/things/${enc(thingId)}`;
  const form = (href: string, op: string[], method: string | undefined, extra: Record<string, unknown> = {}): Form => ({
    href,
    op,
    ...(method === undefined ? {} : { 'htv:methodName': method }),
    contentType: JSON_TYPE,
    ...extra,
  });
  const sse = { subprotocol: 'sse' };
  // No htv:methodName on long-poll forms: node-wot would then send its HEAD handshake as that
  // method. The protocol binding's default for observe/subscribe is GET anyway.
  const longpoll = { subprotocol: 'longpoll' };
  /** The history query of an affordance at `href`: GET {href}/history?from=&to=&limit=&cursor=&order=&every=&agg= */
  const history = (href: string, operation: 'readpropertyhistory' | 'readeventhistory') => ({
    'twinhub:historyForm': { href: `${href}/history`, op: `twinhub:${operation}`, 'htv:methodName': 'GET', contentType: JSON_TYPE },
  });

  return {
    name: 'http',
    context: () => ({ twinhub: TWINHUB_VOCABULARY }),
    securityDefinitions: () => ({ [BEARER_SCHEME]: { scheme: 'bearer', in: 'header', name: 'Authorization' } }),
    thingForms(thingId) {
      const base = thing(thingId);
      return [
        form(`${base}/properties`, ['readallproperties', 'readmultipleproperties'], 'GET'),
        form(`${base}/properties/observe`, ['observeallproperties', 'unobserveallproperties'], 'GET', sse),
        form(`${base}/actions`, ['queryallactions'], 'GET'),
        form(`${base}/events`, ['subscribeallevents', 'unsubscribeallevents'], 'GET', sse),
      ];
    },
    affordanceForms(kind: AffordanceKind, thingId: string, name: string, affordance: Record<string, unknown>) {
      const base = thing(thingId);
      switch (kind) {
        case 'property': {
          const href = `${base}/properties/${enc(name)}`;
          // A write-only property is never read or observed through the twin (the core refuses it).
          const writeOnly = affordance.writeOnly === true;
          const forms = writeOnly ? [] : [form(href, ['readproperty'], 'GET', history(href, 'readpropertyhistory'))];
          if (affordance.readOnly !== true) forms.push(form(href, ['writeproperty'], 'PUT'));
          if (affordance.observable === true && !writeOnly) {
            forms.push(
              form(`${href}/longpoll`, ['observeproperty', 'unobserveproperty'], undefined, longpoll),
              form(`${href}/observe`, ['observeproperty', 'unobserveproperty'], 'GET', sse),
            );
          }
          return forms;
        }
        case 'action':
          // queryaction/cancelaction need the action id in the URL, which a static form cannot
          // carry: clients follow the Location of the 201 answer instead.
          return [
            form(`${base}/actions/${enc(name)}`, ['invokeaction'], 'POST', {
              'htv:headers': [{ 'htv:fieldName': 'Prefer', 'htv:fieldValue': `wait=${options.syncActionMaxWaitSeconds}` }],
            }),
          ];
        case 'event':
          return [
            form(`${base}/events/${enc(name)}/longpoll`, ['subscribeevent', 'unsubscribeevent'], undefined, {
              ...longpoll,
              ...history(`${base}/events/${enc(name)}`, 'readeventhistory'),
            }),
            form(`${base}/events/${enc(name)}`, ['subscribeevent', 'unsubscribeevent'], 'GET', sse),
          ];
      }
    },
  };
}
