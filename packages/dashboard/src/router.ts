// A tiny client-side router over the History API: the app's pages are paths under /ui/ (the hub
// answers every one of them with index.html), so a page can be bookmarked and reloaded.

import { useEffect, useState } from 'preact/hooks';

const BASE = '/ui';

export type Page = { name: 'fleet' } | { name: 'twin'; thingId: string } | { name: 'admin' } | { name: 'activity' } | { name: 'missing'; path: string };

/** The path of a page, for links (ids are percent-encoded, so `/` inside an id stays one segment). */
export function pathOf(page: Page): string {
  switch (page.name) {
    case 'fleet':
      return `${BASE}/`;
    case 'twin':
      return `${BASE}/things/${encodeURIComponent(page.thingId)}`;
    case 'admin':
      return `${BASE}/admin`;
    case 'activity':
      return `${BASE}/activity`;
    case 'missing':
      return page.path;
  }
}

export function parsePath(pathname: string): Page {
  const rest = pathname.startsWith(`${BASE}/`) ? pathname.slice(BASE.length + 1) : '';
  const segments = rest.split('/').filter((segment) => segment !== '');
  if (segments.length === 0) return { name: 'fleet' };
  if (segments.length === 2 && segments[0] === 'things') {
    try {
      return { name: 'twin', thingId: decodeURIComponent(segments[1]) };
    } catch {
      return { name: 'missing', path: pathname };
    }
  }
  if (segments.length === 1 && segments[0] === 'admin') return { name: 'admin' };
  if (segments.length === 1 && segments[0] === 'activity') return { name: 'activity' };
  return { name: 'missing', path: pathname };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => {
  for (const listener of listeners) listener();
});

export function navigate(page: Page): void {
  const path = pathOf(page);
  if (path !== window.location.pathname) window.history.pushState(null, '', path);
  for (const listener of listeners) listener();
  window.scrollTo(0, 0);
}

/** The current page, re-rendering on navigation and on the browser's back/forward. */
export function usePage(): Page {
  const [page, setPage] = useState(() => parsePath(window.location.pathname));
  useEffect(() => {
    const update = () => setPage(parsePath(window.location.pathname));
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return page;
}

/** Click handler for <a href={pathOf(page)}>: navigates in the app, but lets modified clicks open tabs. */
export function onLinkClick(page: Page) {
  return (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(page);
  };
}
