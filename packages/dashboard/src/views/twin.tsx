// One twin: its properties (reported and desired values, pending-write marker, timestamps, live),
// write controls generated from each property's schema, actions with input forms and each
// request's status timeline, the live event log, tags, and the raw TD. Viewers get no write,
// invoke, cancel or tag-editing controls (the hub would refuse them with 403 anyway).

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ActionHandle, RequestRecord, ThingDescription } from '@twinhub/client/browser';
import { ProblemText } from '../components/problem.js';
import { type DataSchema, draftOf, kindOf, parseDraft, SchemaField } from '../components/schema-field.js';
import { Timeline } from '../components/timeline.js';
import { showAge, showTime, showTypes, showValue } from '../format.js';
import { abilities, useSession } from '../session.js';
import { HistoryCharts } from './history.js';
import { TagsEditor } from './tags.js';

/** The twin document (GET /things/{id}/twin, readtwin). */
export interface TwinDocument {
  thingId: string;
  agentId: string;
  created?: string;
  modified?: string;
  tags?: Record<string, string>;
  presence?: { connected: boolean; sessions?: number; since?: string; lastSeen?: string };
  reported?: Record<string, { value: unknown; updated?: string }>;
  desired?: Record<string, { value: unknown; at?: string; requestId?: string }>;
  delta?: Record<string, unknown>;
}

interface Affordance extends DataSchema {
  input?: DataSchema;
  output?: DataSchema;
  data?: DataSchema;
}

interface EventEntry {
  key: string;
  name: string;
  at: string;
  data: unknown;
}

const EVENT_LOG_LIMIT = 200;

export function TwinView({ thingId }: { thingId: string }) {
  const { client, me } = useSession();
  const can = abilities(me);
  const [td, setTd] = useState<ThingDescription>();
  const [twin, setTwin] = useState<TwinDocument>();
  const [problem, setProblem] = useState<unknown>();
  const [events, setEvents] = useState<EventEntry[]>([]);
  const refreshTimer = useRef<number | undefined>(undefined);
  const alive = useRef(true);

  const loadTwin = useCallback(async () => {
    try {
      const document = (await client.twin(thingId)) as unknown as TwinDocument;
      if (alive.current) setTwin(document);
    } catch (error) {
      if (alive.current) setProblem(error);
    }
  }, [client, thingId]);

  /** Re-reads the twin soon (several notifications in a burst cost one read). */
  const refreshSoon = useCallback(() => {
    if (refreshTimer.current !== undefined) return;
    refreshTimer.current = window.setTimeout(() => {
      refreshTimer.current = undefined;
      void loadTwin();
    }, 100);
  }, [loadTwin]);

  useEffect(() => {
    alive.current = true;
    client
      .td(thingId)
      .then((loaded) => alive.current && setTd(loaded))
      .catch((error: unknown) => alive.current && setProblem(error));
    void loadTwin();
    return () => {
      alive.current = false;
      window.clearTimeout(refreshTimer.current);
    };
  }, [client, thingId, loadTwin]);

  const properties = (td?.properties ?? {}) as Record<string, Affordance>;
  const actions = (td?.actions ?? {}) as Record<string, Affordance>;
  const eventAffordances = (td?.events ?? {}) as Record<string, Affordance>;

  // Live values: observe every observable property (re-read the twin for desired and pending),
  // subscribe to every event for the log; a TD change or deletion reloads or says so.
  useEffect(() => {
    if (!td) return;
    const subscriptions: Array<Promise<{ unsubscribe(): Promise<void> }>> = [];
    for (const [name, property] of Object.entries(properties)) {
      if (!property.observable || property.writeOnly) continue;
      subscriptions.push(
        client.observe(thingId, name, (value, notification) => {
          setTwin((previous) =>
            previous
              ? { ...previous, reported: { ...previous.reported, [name]: { value, updated: notification?.timestamp ?? new Date().toISOString() } } }
              : previous,
          );
          refreshSoon();
        }),
      );
    }
    for (const name of Object.keys(eventAffordances)) {
      subscriptions.push(
        client.subscribe(thingId, name, (data, notification) => {
          const at = notification?.timestamp ?? new Date().toISOString();
          setEvents((previous) => [{ key: `${notification?.seq ?? Math.random()}`, name, at, data }, ...previous].slice(0, EVENT_LOG_LIMIT));
        }),
      );
    }
    subscriptions.push(
      client.onDirectory((notification) => {
        // An agent going online or offline: re-read the twin for its owner's presence.
        if (notification.operation === 'agent_connected' || notification.operation === 'agent_disconnected') return refreshSoon();
        if (notification.thingId !== thingId) return;
        if (notification.operation === 'thing_deleted') setProblem(new Error('This Thing was deleted from the directory.'));
        else if (notification.operation === 'thing_updated') setTd(notification.data as ThingDescription);
        refreshSoon();
      }),
    );
    return () => {
      for (const subscription of subscriptions) void subscription.then((s) => s.unsubscribe()).catch(() => undefined);
    };
  }, [client, thingId, td === undefined, refreshSoon]);

  if (!td) {
    return (
      <section>
        <h1>{thingId}</h1>
        {problem ? <ProblemText error={problem} /> : <p aria-live="polite">Loading…</p>}
      </section>
    );
  }

  const title = typeof td.title === 'string' ? td.title : thingId;
  const online = twin?.presence?.connected === true;
  return (
    <article class="twin" aria-labelledby="twin-heading">
      <header class="twin-head">
        <h1 id="twin-heading">{title}</h1>
        <dl class="facts">
          <div>
            <dt>ID</dt>
            <dd data-testid="thing-id">{thingId}</dd>
          </div>
          <div>
            <dt>@type</dt>
            <dd>{showTypes(td['@type']) || '—'}</dd>
          </div>
          <div>
            <dt>Agent</dt>
            <dd>{twin?.agentId ?? '—'}</dd>
          </div>
          <div>
            <dt>Presence</dt>
            <dd>
              <span class={`presence ${online ? 'online' : 'offline'}`} data-testid="presence">
                {online ? 'online' : 'offline'}
              </span>
              {!online && twin?.presence?.lastSeen ? ` last seen ${showAge(twin.presence.lastSeen)}` : ''}
            </dd>
          </div>
        </dl>
        <ProblemText error={problem} />
      </header>

      <section aria-labelledby="properties-heading">
        <h2 id="properties-heading">Properties</h2>
        {Object.keys(properties).length === 0 && <p>No properties.</p>}
        <div class="cards">
          {Object.entries(properties).map(([name, property]) => (
            <PropertyCard key={name} thingId={thingId} name={name} property={property} twin={twin} canWrite={can.write} onChange={refreshSoon} />
          ))}
        </div>
      </section>

      <HistoryCharts
        thingId={thingId}
        properties={properties}
        updated={Object.fromEntries(Object.keys(properties).map((name) => [name, twin?.reported?.[name]?.updated]))}
      />

      <section aria-labelledby="actions-heading">
        <h2 id="actions-heading">Actions</h2>
        {Object.keys(actions).length === 0 && <p>No actions.</p>}
        <div class="cards">
          {Object.entries(actions).map(([name, action]) => (
            <ActionCard key={name} thingId={thingId} name={name} action={action} canInvoke={can.invoke} />
          ))}
        </div>
      </section>

      <section aria-labelledby="events-heading">
        <h2 id="events-heading">Event log</h2>
        <p class="hint">
          {Object.keys(eventAffordances).length === 0 ? 'This Thing declares no events.' : `Live: ${Object.keys(eventAffordances).join(', ')}. Newest first.`}
        </p>
        <ol class="event-log" aria-live="polite" aria-label="Events">
          {events.map((event) => (
            <li key={event.key} data-event={event.name}>
              <time dateTime={event.at}>{showTime(event.at)}</time> <strong>{event.name}</strong> <code>{showValue(event.data)}</code>
            </li>
          ))}
        </ol>
      </section>

      <TagsEditor thingId={thingId} tags={twin?.tags ?? {}} canEdit={can.editTags} onSaved={refreshSoon} />

      <section aria-labelledby="td-heading">
        <h2 id="td-heading">Thing Description</h2>
        <RawTd td={td} />
      </section>
    </article>
  );
}

interface PropertyCardProps {
  thingId: string;
  name: string;
  property: Affordance;
  twin: TwinDocument | undefined;
  canWrite: boolean;
  onChange(): void;
}

function PropertyCard({ thingId, name, property, twin, canWrite, onChange }: PropertyCardProps) {
  const { client } = useSession();
  const reported = twin?.reported?.[name];
  const desired = twin?.desired?.[name];
  const pending = twin?.delta !== undefined && name in twin.delta;
  const writable = canWrite && !property.readOnly;
  const [draft, setDraft] = useState<string>();
  const [problem, setProblem] = useState<unknown>();
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);
  const idBase = `prop-${cssId(name)}`;
  const current = draft ?? draftOf(property, desired?.value ?? reported?.value);

  async function write(event: Event) {
    event.preventDefault();
    const parsed = parseDraft(property, current);
    if (!parsed.ok) {
      setProblem(new Error(parsed.message));
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      const handle = await client.write(thingId, name, parsed.value);
      setStatus(handle.record.status);
      handle.onStatus((record) => {
        setStatus(record.status);
        if (record.status === 'failed' && record.error) setProblem(new Error(`${record.error.title}: ${record.error.detail}`));
        onChange();
      });
      setDraft(undefined);
      onChange();
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="card property" data-property={name}>
      <h3>
        {name}
        {property.title && property.title !== name ? <span class="sub"> {property.title}</span> : null}
      </h3>
      {property.description && <p class="hint">{property.description}</p>}
      <dl class="values">
        <div>
          <dt>Reported</dt>
          <dd>
            <output data-testid="reported" data-value={JSON.stringify(reported?.value) ?? ''}>
              {property.writeOnly && reported === undefined ? 'write-only' : showValue(reported?.value)}
            </output>
            {property.unit ? ` ${property.unit}` : ''}
            {reported?.updated && (
              <small class="sub">
                {' '}
                at <time dateTime={reported.updated}>{showTime(reported.updated)}</time>
              </small>
            )}
          </dd>
        </div>
        <div>
          <dt>Desired</dt>
          <dd>
            <output data-testid="desired">{desired ? showValue(desired.value) : '—'}</output>
            {desired?.at && (
              <small class="sub">
                {' '}
                at <time dateTime={desired.at}>{showTime(desired.at)}</time>
              </small>
            )}
            {pending && (
              <span class="pending" data-testid="pending" title="The device has not reported the desired value yet">
                pending write
              </span>
            )}
          </dd>
        </div>
      </dl>
      <p class="badges">
        {property.readOnly && <span class="badge">read-only</span>}
        {property.writeOnly && <span class="badge">write-only</span>}
        {property.observable && <span class="badge">live</span>}
      </p>
      {writable && (
        <form class="write" noValidate onSubmit={write} aria-label={`Write ${name}`}>
          <SchemaField
            id={`${idBase}-input`}
            label={`New value for ${name}`}
            schema={property}
            draft={current}
            onDraft={setDraft}
            errorId={`${idBase}-problem`}
            invalid={problem !== undefined}
            disabled={busy}
          />
          <button type="submit" disabled={busy}>
            Write
          </button>
          {status && (
            <small class="sub" aria-live="polite" data-testid="write-status">
              write {status}
            </small>
          )}
          <ProblemText id={`${idBase}-problem`} error={problem} />
        </form>
      )}
    </div>
  );
}

interface Invocation {
  handle: ActionHandle;
  record: RequestRecord;
  seen: Map<string, string>;
}

function ActionCard({ thingId, name, action, canInvoke }: { thingId: string; name: string; action: Affordance; canInvoke: boolean }) {
  const { client } = useSession();
  const input = action.input;
  const fields = kindOf(input) === 'json' && input?.type === 'object' && input.properties ? Object.entries(input.properties) : undefined;
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [invocations, setInvocations] = useState<Invocation[]>([]);
  const [cancelling, setCancelling] = useState<string>();
  const idBase = `action-${cssId(name)}`;

  function inputValue(): { ok: true; value: unknown } | { ok: false; message: string } {
    if (!input) return { ok: true, value: undefined };
    if (!fields) return parseDraft(input, drafts[''] ?? draftOf(input, undefined));
    const value: Record<string, unknown> = {};
    for (const [field, schema] of fields) {
      const text = drafts[field] ?? draftOf(schema, undefined);
      // Optional fields left empty are left out; the hub says when a required one is missing.
      if (text === '' && !input.required?.includes(field) && kindOf(schema) !== 'string') continue;
      const parsed = parseDraft(schema, text);
      if (!parsed.ok) return { ok: false, message: `${field}: ${parsed.message}` };
      value[field] = parsed.value;
    }
    return { ok: true, value };
  }

  const track = (handle: ActionHandle) => {
    const seen = new Map<string, string>([[handle.record.status, new Date().toISOString()]]);
    setInvocations((previous) => [{ handle, record: handle.record, seen }, ...previous].slice(0, 10));
    handle.onStatus((record) => {
      if (!seen.has(record.status)) seen.set(record.status, new Date().toISOString());
      setInvocations((previous) => previous.map((item) => (item.handle === handle ? { ...item, record, seen: new Map(seen) } : item)));
    });
  };

  async function invoke(event: Event) {
    event.preventDefault();
    const parsed = inputValue();
    if (!parsed.ok) {
      setProblem(new Error(parsed.message));
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      track(await client.invoke(thingId, name, parsed.value));
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  }

  async function cancel(invocation: Invocation) {
    setCancelling(invocation.handle.actionId);
    try {
      await invocation.handle.cancel();
    } catch (error) {
      setProblem(error);
    } finally {
      setCancelling(undefined);
    }
  }

  return (
    <div class="card action" data-action={name}>
      <h3>{name}</h3>
      {action.description && <p class="hint">{action.description}</p>}
      {canInvoke && (
        <form class="invoke" noValidate onSubmit={invoke} aria-label={`Invoke ${name}`}>
          {input && fields && (
            <fieldset>
              <legend>Input</legend>
              {fields.map(([field, schema]) => (
                <SchemaField
                  key={field}
                  id={`${idBase}-${cssId(field)}`}
                  label={`${field}${input.required?.includes(field) ? ' (required)' : ''}`}
                  schema={schema}
                  draft={drafts[field] ?? draftOf(schema, undefined)}
                  onDraft={(text) => setDrafts({ ...drafts, [field]: text })}
                  errorId={`${idBase}-problem`}
                  invalid={problem !== undefined}
                  disabled={busy}
                />
              ))}
            </fieldset>
          )}
          {input && !fields && (
            <SchemaField
              id={`${idBase}-input`}
              label="Input"
              schema={input}
              draft={drafts[''] ?? draftOf(input, undefined)}
              onDraft={(text) => setDrafts({ ...drafts, '': text })}
              errorId={`${idBase}-problem`}
              invalid={problem !== undefined}
              disabled={busy}
            />
          )}
          <button type="submit" disabled={busy}>
            Invoke {name}
          </button>
          <ProblemText id={`${idBase}-problem`} error={problem} />
        </form>
      )}
      {invocations.length > 0 && (
        <div class="requests" aria-live="polite">
          <h4>Requests from this page</h4>
          {invocations.map((invocation) => (
            <Timeline
              key={invocation.handle.actionId}
              record={invocation.record}
              seen={invocation.seen}
              canCancel={canInvoke}
              cancelling={cancelling === invocation.handle.actionId}
              onCancel={() => void cancel(invocation)}
            />
          ))}
        </div>
      )}
    </div>
  );
}

function RawTd({ td }: { td: ThingDescription }) {
  const [copied, setCopied] = useState<string>();
  const text = JSON.stringify(td, null, 2);
  const pre = useRef<HTMLPreElement>(null);

  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Copied to the clipboard.');
    } catch {
      // No clipboard permission (an insecure origin, a denied prompt): select it for Ctrl+C.
      const selection = window.getSelection();
      if (pre.current && selection) {
        selection.selectAllChildren(pre.current);
        setCopied('Selected: press Ctrl+C (⌘C) to copy.');
      }
    }
  }

  return (
    <details class="raw-td">
      <summary>Raw JSON ({text.length.toLocaleString('en')} characters)</summary>
      <button type="button" onClick={() => void copy()}>
        Copy TD
      </button>{' '}
      <span aria-live="polite">{copied}</span>
      <pre ref={pre} data-testid="raw-td">
        {text}
      </pre>
    </details>
  );
}

/** An affordance name as a piece of an element id. */
function cssId(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, (char) => `_${char.charCodeAt(0).toString(16)}`);
}
