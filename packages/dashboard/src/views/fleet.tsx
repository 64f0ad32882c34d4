// The fleet: every twin the user may see, one page at a time (paged on the hub, sorted by id, so
// 10,000 twins cost one page), with title, @type, agent, presence and last update; filters by
// text, @type, agent and tag; reloaded live when the directory or an agent's presence changes.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ThingDescription } from '@twinhub/client/browser';
import { ProblemText } from '../components/problem.js';
import { showAge, showTime, showTypes } from '../format.js';
import { onLinkClick } from '../router.js';
import { useSession } from '../session.js';

/** What listTDs with metadataOnly gives per twin (the readtwin document without values). */
interface TwinMeta {
  thingId: string;
  agentId: string;
  modified?: string;
  presence?: { connected: boolean; lastSeen?: string; since?: string };
}

interface Filters {
  title: string;
  type: string;
  agent: string;
  tag: string;
  /** A fleet query (RFC 9535 filter expression over the twin's query document, docs/queries.md). */
  query: string;
}

interface Row {
  td: ThingDescription;
  meta: TwinMeta | undefined;
}

const PAGE_SIZES = [25, 50, 100];
const EMPTY: Filters = { title: '', type: '', agent: '', tag: '', query: '' };

/** The tag filter as the hub takes it: `key:value`, several separated by commas. */
function tagsOf(text: string): Record<string, string> | { error: string } {
  const tags: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)) {
    const colon = part.indexOf(':');
    if (colon <= 0) return { error: `Write tags as key:value (got "${part}").` };
    tags[part.slice(0, colon).trim()] = part.slice(colon + 1).trim();
  }
  return tags;
}

export function FleetView() {
  const { token, client } = useSession();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [offset, setOffset] = useState(0);
  const [limit, setLimit] = useState(50);
  const [rows, setRows] = useState<Row[]>();
  const [total, setTotal] = useState(0);
  const [problem, setProblem] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const [reloads, setReloads] = useState(0);
  const request = useRef(0);

  // Typing settles for a moment before the hub is asked.
  useEffect(() => {
    // Only a real edit resets the page: the first render must not undo a quick "Next page".
    if (draft === filters) return;
    const timer = window.setTimeout(() => {
      setFilters(draft);
      setOffset(0);
    }, 250);
    return () => window.clearTimeout(timer);
  }, [draft]);

  const tags = useMemo(() => tagsOf(filters.tag), [filters.tag]);

  useEffect(() => {
    if ('error' in tags) return;
    const mine = ++request.current;
    const query = {
      offset,
      limit,
      ...(filters.title.trim() ? { title: filters.title.trim() } : {}),
      ...(filters.type.trim() ? { type: filters.type.trim() } : {}),
      ...(filters.agent.trim() ? { agent: filters.agent.trim() } : {}),
      ...(Object.keys(tags).length > 0 ? { tags } : {}),
      ...(filters.query.trim() ? { filter: filters.query.trim() } : {}),
    };
    setLoading(true);
    // The twin metadata (owner, presence, modified) and the page of TDs with the total, both through
    // the client: the same query and order give the same page.
    (client.request({ operation: 'listTDs', query: { ...query, metadataOnly: true } }) as Promise<TwinMeta[]>)
      .then(async (metas) => [await client.thingsPage(query), metas] as const)
      .then(([page, metas]) => {
        if (mine !== request.current) return;
        const byId = new Map(metas.map((meta) => [meta.thingId, meta]));
        setRows(page.things.map((td) => ({ td, meta: byId.get(String(td.id)) })));
        setTotal(page.total ?? offset + page.things.length);
        setProblem(undefined);
        // Things deleted meanwhile can leave this page past the end: step back.
        const total = page.total ?? 0;
        if (page.things.length === 0 && offset > 0 && total > 0) setOffset(Math.max(0, Math.floor((total - 1) / limit) * limit));
      })
      .catch((error: unknown) => {
        if (mine === request.current) setProblem(error);
      })
      .finally(() => {
        if (mine === request.current) setLoading(false);
      });
  }, [token, client, filters, tags, offset, limit, reloads]);

  // Live: any directory change or presence change reloads the page shown (at most every 300 ms).
  useEffect(() => {
    let timer: number | undefined;
    const subscription = client.onDirectory(() => {
      if (timer === undefined) {
        timer = window.setTimeout(() => {
          timer = undefined;
          setReloads((n) => n + 1);
        }, 300);
      }
    });
    return () => {
      window.clearTimeout(timer);
      void subscription.then((s) => s.unsubscribe()).catch(() => undefined);
    };
  }, [client]);

  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  const set = (key: keyof Filters) => (event: Event) => setDraft({ ...draft, [key]: (event.currentTarget as HTMLInputElement).value });

  return (
    <section aria-labelledby="fleet-heading">
      <h1 id="fleet-heading">Fleet</h1>
      <form class="filters" aria-label="Filter the fleet" onSubmit={(event) => event.preventDefault()}>
        <div class="field">
          <label for="filter-title">Title contains</label>
          <input id="filter-title" type="search" value={draft.title} onInput={set('title')} />
        </div>
        <div class="field">
          <label for="filter-type">@type</label>
          <input id="filter-type" type="search" value={draft.type} onInput={set('type')} />
        </div>
        <div class="field">
          <label for="filter-agent">Agent</label>
          <input id="filter-agent" type="search" value={draft.agent} onInput={set('agent')} />
        </div>
        <div class="field">
          <label for="filter-tag">Tags (key:value, …)</label>
          <input
            id="filter-tag"
            type="search"
            value={draft.tag}
            onInput={set('tag')}
            aria-invalid={'error' in tags ? 'true' : undefined}
            aria-describedby={'error' in tags ? 'filter-tag-problem' : undefined}
          />
          {'error' in tags && (
            <small id="filter-tag-problem" class="problem" role="alert">
              {tags.error}
            </small>
          )}
        </div>
        <div class="field field-wide">
          <label for="filter-query">Query</label>
          <input
            id="filter-query"
            type="search"
            spellcheck={false}
            placeholder="@.reported.brightness > 50 && @.presence.connected == true"
            value={draft.query}
            onInput={set('query')}
            aria-describedby="filter-query-hint"
          />
          <small id="filter-query-hint" class="hint">
            A fleet query: an RFC 9535 filter over id, title, type, agent, tags, reported, desired, presence, td.
          </small>
        </div>
      </form>
      <ProblemText error={problem} />
      <p class="count" aria-live="polite" data-testid="fleet-count">
        {rows === undefined ? 'Loading…' : total === 0 ? 'No twins match.' : `Twins ${from}–${to} of ${total.toLocaleString('en')}`}
        {loading && rows !== undefined ? ' (updating…)' : ''}
      </p>
      <div class="table-wrap">
        <table class="fleet">
          <caption class="visually-hidden">Twins, sorted by id</caption>
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">@type</th>
              <th scope="col">Agent</th>
              <th scope="col">Presence</th>
              <th scope="col">TD last updated</th>
            </tr>
          </thead>
          <tbody>
            {(rows ?? []).map(({ td, meta }) => {
              const id = String(td.id);
              const online = meta?.presence?.connected === true;
              return (
                <tr key={id} data-thing-id={id}>
                  <td>
                    <a href={`/ui/things/${encodeURIComponent(id)}`} onClick={onLinkClick({ name: 'twin', thingId: id })}>
                      {typeof td.title === 'string' ? td.title : id}
                    </a>
                    <div class="sub">{id}</div>
                  </td>
                  <td>{showTypes(td['@type'])}</td>
                  <td>{meta?.agentId ?? ''}</td>
                  <td>
                    <span class={`presence ${online ? 'online' : 'offline'}`}>{online ? 'online' : 'offline'}</span>
                    {!online && meta?.presence?.lastSeen && <div class="sub">last seen {showAge(meta.presence.lastSeen)}</div>}
                  </td>
                  <td>
                    <time dateTime={meta?.modified}>{showTime(meta?.modified)}</time>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages">
        <button type="button" onClick={() => setOffset(Math.max(0, offset - limit))} disabled={offset === 0}>
          Previous page
        </button>
        <button type="button" onClick={() => setOffset(offset + limit)} disabled={offset + limit >= total}>
          Next page
        </button>
        <label for="page-size">Per page</label>
        <select
          id="page-size"
          value={String(limit)}
          onChange={(event) => {
            setLimit(Number(event.currentTarget.value));
            setOffset(0);
          }}
        >
          {PAGE_SIZES.map((size) => (
            <option key={size} value={String(size)}>
              {size}
            </option>
          ))}
        </select>
      </nav>
    </section>
  );
}
