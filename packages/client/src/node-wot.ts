// The node-wot device adapter (subpath `@twinhub/client/node-wot`, Node only): makes a node-wot
// ExposedThing (`WoT.produce(td)`) a hub agent. It registers the Thing's TD, routes the hub's
// queued writes and invocations to the handlers the ExposedThing was given, and reports the
// property changes (`emitPropertyChange`) and events (`emitEvent`) it emits. No node-wot import:
// the ExposedThing is used through the methods node-wot's own protocol servers call (0.8 and 0.9).

import { Readable } from 'node:stream';
import type { AgentClient } from './agent.js';
import type { ThingDescription } from './wire.js';

/** A node-wot Content: a media type and a byte stream. */
export interface ContentLike {
  type: string;
  body: NodeJS.ReadableStream;
  toBuffer?(): Promise<Buffer>;
}

type HandlerOptions = { formIndex: number };

/** What the adapter uses of a node-wot ExposedThing (the methods node-wot's servers call). */
export interface ExposedThingLike {
  properties?: { [name: string]: { forms?: unknown[] } };
  actions?: { [name: string]: { forms?: unknown[] } };
  events?: { [name: string]: { forms?: unknown[] } };
  getThingDescription(): object;
  handleReadProperty(name: string, options: HandlerOptions): Promise<ContentLike>;
  handleWriteProperty(name: string, content: ContentLike, options: HandlerOptions): Promise<void>;
  // biome-ignore lint/suspicious/noConfusingVoidType: node-wot's own signature, so an ExposedThing fits without a cast
  handleInvokeAction(name: string, content: ContentLike, options: HandlerOptions): Promise<ContentLike | void>;
  emitPropertyChange(name: string): unknown;
  emitEvent(name: string, data: unknown): unknown;
}

export interface HubThing {
  readonly thingId: string;
  /** The twin TD the hub serves for it (what consumers fetch). */
  readonly twinTd: ThingDescription;
  /** Stops forwarding (handlers removed, emit* restored); the TD stays registered. */
  stop(): void;
}

// node-wot picks a form's content type by index; a produced Thing without servers has no forms,
// and then node-wot falls back to JSON, which is what the hub carries.
const OPTIONS: HandlerOptions = { formIndex: 0 };

function jsonContent(value: unknown): ContentLike {
  const bytes = value === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(value));
  return { type: 'application/json', body: Readable.from([bytes]), toBuffer: async () => bytes };
}

async function decode(content: ContentLike): Promise<unknown> {
  let bytes: Buffer;
  if (content.toBuffer) bytes = await content.toBuffer();
  else {
    const chunks: Buffer[] = [];
    for await (const chunk of content.body as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(chunk));
    bytes = Buffer.concat(chunks);
  }
  if (bytes.length === 0) return undefined;
  const text = bytes.toString('utf8');
  // [td-content-type] the hub carries JSON; a text/plain property is sent as a JSON string.
  return /json/.test(content.type) ? JSON.parse(text) : text;
}

type Affordances = Record<string, Record<string, unknown>>;

/**
 * The TD to register: the produced TD, with a form per affordance where node-wot left none (the TD
 * schema needs one; the hub serves its own forms in the twin TD) and a nosec default when unsecured.
 */
export function registrationTd(td: Record<string, unknown>): ThingDescription {
  const copy = structuredClone(td) as ThingDescription & { securityDefinitions?: unknown; security?: unknown; forms?: unknown[] };
  for (const kind of ['properties', 'actions', 'events'] as const) {
    const affordances = (copy[kind] ?? {}) as Affordances;
    for (const [name, affordance] of Object.entries(affordances)) {
      const forms = affordance.forms as unknown[] | undefined;
      if (!Array.isArray(forms) || forms.length === 0) affordance.forms = [{ href: `${kind}/${encodeURIComponent(name)}` }];
    }
  }
  if (Array.isArray(copy.forms) && copy.forms.length === 0) delete copy.forms;
  if (copy.securityDefinitions === undefined || copy.security === undefined) {
    copy.securityDefinitions = { nosec_sc: { scheme: 'nosec' } };
    copy.security = 'nosec_sc';
  }
  return copy;
}

/** What `WoT.produce()` is typed as (wot-typescript-definitions' ExposedThing has no handle* methods; node-wot's class does). */
export type ProducedThing = { getThingDescription(): object } & Pick<ExposedThingLike, 'emitPropertyChange' | 'emitEvent'>;

function asExposedThing(thing: ProducedThing): ExposedThingLike {
  const missing = (['handleReadProperty', 'handleWriteProperty', 'handleInvokeAction'] as const).filter(
    (method) => typeof (thing as Partial<ExposedThingLike>)[method] !== 'function',
  );
  if (missing.length > 0) throw new TypeError(`not a node-wot ExposedThing (from WoT.produce): it has no ${missing.join(', ')}`);
  return thing as ExposedThingLike;
}

/**
 * Serves `thing` through the hub as `agent`'s Thing: registers it, reports every readable
 * property's current value, then forwards writes, invocations, property changes and events.
 */
export async function exposeThroughHub(exposed: ProducedThing, agent: AgentClient): Promise<HubThing> {
  const thing = asExposedThing(exposed);
  // node-wot's handlers index `forms[formIndex]` without a guard: a Thing produced without any
  // server has no forms array at all. An empty one makes them fall back to JSON.
  for (const affordances of [thing.properties, thing.actions, thing.events]) {
    for (const affordance of Object.values(affordances ?? {})) if (!Array.isArray(affordance.forms)) affordance.forms = [];
  }
  const td = registrationTd(thing.getThingDescription() as Record<string, unknown>);
  const twinTd = await agent.register(td);
  const thingId = String(twinTd.id);
  const properties = (td.properties ?? {}) as Affordances;
  const actions = (td.actions ?? {}) as Affordances;

  const read = async (name: string): Promise<{ value: unknown } | undefined> => {
    try {
      return { value: await decode(await thing.handleReadProperty(name, OPTIONS)) };
    } catch {
      return undefined; // no read handler (write-only) or a failing one: nothing to report
    }
  };

  const initial: Record<string, unknown> = {};
  for (const name of Object.keys(properties)) {
    const current = await read(name);
    if (current && current.value !== undefined) initial[name] = current.value;
  }
  if (Object.keys(initial).length > 0) await agent.report(thingId, initial);

  const removers: Array<() => void> = [];
  for (const [name, property] of Object.entries(properties)) {
    if (property.readOnly === true) continue;
    removers.push(
      agent.onWrite(thingId, name, async (value) => {
        await thing.handleWriteProperty(name, jsonContent(value), OPTIONS);
        // Report what the Thing now holds (its read handler), else the written value.
        return (await read(name))?.value;
      }),
    );
  }
  for (const name of Object.keys(actions)) {
    removers.push(
      agent.onAction(thingId, name, async (input) => {
        const output = await thing.handleInvokeAction(name, jsonContent(input), OPTIONS);
        return output ? decode(output) : undefined;
      }),
    );
  }

  // Forward what the Thing emits. Patching the instance is the only hook: node-wot notifies its
  // listeners per protocol form, and a Thing served only through the hub has no forms.
  const emitPropertyChange = thing.emitPropertyChange;
  const emitEvent = thing.emitEvent;
  thing.emitPropertyChange = async function (this: ExposedThingLike, name: string) {
    await emitPropertyChange.call(this, name);
    const current = await read(name);
    if (current) void agent.report(thingId, { [name]: current.value });
  };
  thing.emitEvent = function (this: ExposedThingLike, name: string, data: unknown) {
    emitEvent.call(this, name, data);
    void agent.emit(thingId, name, data);
  };

  return {
    thingId,
    twinTd,
    stop() {
      for (const remove of removers) remove();
      thing.emitPropertyChange = emitPropertyChange;
      thing.emitEvent = emitEvent;
    },
  };
}
