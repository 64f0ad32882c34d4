// The HubApi one binding gets: the hub itself, with every operation counted and timed, sessions
// counted and logged as they open and close, and notifications counted as they are handed over.
// One per binding, so the binding label is right without the core knowing of transports.

import type { Client, HubApi, HubContext, HubRequest, HubResult, Session, SessionSink } from '@twinhub/core';
import type { Logger } from 'pino';
import type { HubMetrics } from './metrics.js';

export function observedHub(hub: HubApi, binding: string, metrics: HubMetrics, accessLog: Logger): HubApi {
  /** Sessions counted as open, with when they opened: closeSession is idempotent, the gauge must be too. */
  const open = new Map<string, { binding: string; started: number; reason?: string }>();
  const ended = (session: Session, reason: string): void => {
    const entry = open.get(session.id);
    if (!entry) return;
    reason = entry.reason ?? reason;
    open.delete(session.id);
    metrics.sessions.dec({ binding: entry.binding });
    accessLog.info(
      { binding: entry.binding, session: session.id, client: session.client.id, ms: Math.round(performance.now() - entry.started), reason },
      'session closed',
    );
  };
  return {
    get limits() {
      return hub.limits;
    },
    authenticate: (token) => hub.authenticate(token),
    clientById: (clientId) => hub.clientById(clientId),
    async handle(request: HubRequest, context: HubContext): Promise<HubResult> {
      const stop = metrics.requestSeconds.startTimer({ operation: request.operation, binding });
      const result = await hub.handle(request, context);
      stop();
      metrics.requests.inc({ operation: request.operation, binding, status: String(result.status) });
      return result;
    },
    authorize: (client, operation, thingId, name) => hub.authorize(client, operation, thingId, name),
    ready: () => hub.ready(),
    openSession(client: Client, sessionBinding: string, sink: SessionSink): Session {
      let session: Session | undefined;
      const counted: SessionSink = {
        send(message) {
          try {
            sink.send(message);
          } catch (error) {
            // The core closes a session whose sink throws, without the binding calling closeSession.
            if (session) ended(session, 'sink failed');
            throw error;
          }
          if (message.type === 'notification') metrics.notificationsSent.inc({ binding: sessionBinding });
        },
        close: (reason) => {
          // The core ends it (token revoked, shutdown): the binding's closeSession follows.
          const entry = session && open.get(session.id);
          if (entry) entry.reason = reason;
          sink.close(reason);
        },
        ...(sink.ready ? { ready: () => sink.ready!() } : {}),
      };
      session = hub.openSession(client, sessionBinding, counted);
      open.set(session.id, { binding: sessionBinding, started: performance.now() });
      metrics.sessions.inc({ binding: sessionBinding });
      accessLog.info({ binding: sessionBinding, session: session.id, client: client.id, role: client.role }, 'session opened');
      return session;
    },
    closeSession(session: Session): void {
      hub.closeSession(session);
      ended(session, 'connection ended');
    },
    resumeDelivery: (session) => hub.resumeDelivery(session),
    awaitRequest: (requestId, timeoutMs) => hub.awaitRequest(requestId, timeoutMs),
    notificationsSince: (seq, client) => hub.notificationsSince(seq, client),
    presence: (agentId) => hub.presence(agentId),
    addTwinTdContributor: (contributor) => hub.addTwinTdContributor(contributor),
  };
}
