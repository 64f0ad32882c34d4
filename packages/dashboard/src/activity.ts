// Directory activity collected from sign-in on: TD created / updated / deleted and agents coming
// and going, newest first, so the Activity page shows what happened while another page was open.

import type { DirectoryListener } from '@twinhub/client/browser';

export interface ActivityEntry {
  seq: number;
  at: string;
  kind: 'thing_created' | 'thing_updated' | 'thing_deleted' | 'agent_connected' | 'agent_disconnected';
  thingId?: string;
  agentId?: string;
  title?: string;
}

/** How many entries are kept; older ones drop off. */
export const ACTIVITY_LIMIT = 500;

export const KIND_LABELS: Record<ActivityEntry['kind'], string> = {
  thing_created: 'created',
  thing_updated: 'updated',
  thing_deleted: 'deleted',
  agent_connected: 'agent online',
  agent_disconnected: 'agent offline',
};

/** The entry a directory notification makes, or undefined for one the page does not show. */
export function toEntry(notification: Parameters<DirectoryListener>[0]): ActivityEntry | undefined {
  const kind = notification.operation as ActivityEntry['kind'];
  if (!(kind in KIND_LABELS)) return undefined;
  const data = (notification.data ?? {}) as { title?: unknown; agentId?: unknown };
  return {
    seq: notification.seq,
    at: notification.timestamp,
    kind,
    ...('thingId' in notification && notification.thingId ? { thingId: notification.thingId } : {}),
    ...('agentId' in notification && notification.agentId ? { agentId: String(notification.agentId) } : {}),
    ...(typeof data.title === 'string' ? { title: data.title } : {}),
  };
}
