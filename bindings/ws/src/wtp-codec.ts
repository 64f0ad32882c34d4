// The `webthingprotocol` subprotocol of the WS endpoint: Web Thing Protocol requests run as core
// operations, their results and the core's pushed notifications go out as the draft's response
// and notification messages (web-thing-protocol.ts has the message shapes, docs/ws.md the mapping).

import { badRequest, notFound, type HubRequest, type HubResult, type OutboundMessage, type RequestRecord, type Session } from '@twinhub/core';
import { handleSafely, type CodecContext, type WireMessage, type WsCodec, type WsCodecFactory } from './codec.js';
import { actionStatusOf, now, parseWtpRequest, wtpError, wtpNotification, wtpResponse, type WtpRequest } from './web-thing-protocol.js';
import { WtpSubscriptions, type SubscriptionKind, type Undo } from './wtp-subscriptions.js';

const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** Subscription operations: what kind they concern and what they do. */
const SUBSCRIPTIONS: Partial<Record<WtpRequest['operation'], { kind: SubscriptionKind; all: boolean; on: boolean }>> = {
  observeproperty: { kind: 'property', all: false, on: true },
  unobserveproperty: { kind: 'property', all: false, on: false },
  observeallproperties: { kind: 'property', all: true, on: true },
  unobserveallproperties: { kind: 'property', all: true, on: false },
  subscribeevent: { kind: 'event', all: false, on: true },
  unsubscribeevent: { kind: 'event', all: false, on: false },
  subscribeallevents: { kind: 'event', all: true, on: true },
  unsubscribeallevents: { kind: 'event', all: true, on: false },
};

export const webThingProtocolCodec: WsCodecFactory = (context) => new WtpCodec(context);

class WtpCodec implements WsCodec {
  private readonly subscriptions = new WtpSubscriptions();
  /** Synchronous actions invoked on this socket, by actionId: answered once they end [wtp-invokeaction-synchronous-response]. */
  private readonly synchronous = new Map<string, WtpRequest>();

  constructor(private readonly context: CodecContext) {}

  async answer(frame: { data: Buffer; isBinary: boolean }, session: Session): Promise<WireMessage | undefined> {
    if (frame.isBinary) return wtpError({}, badRequest('binary frames are not supported: send each message as a JSON text frame').problem);
    const parsed = parseWtpRequest(frame.data, this.context.envelopeLimitBytes);
    if ('problem' in parsed) return wtpError(parsed.address, parsed.problem);
    const { request } = parsed;
    const subscription = SUBSCRIPTIONS[request.operation];
    if (subscription) return this.subscribe(request, subscription, session);
    if (request.operation === 'invokeaction') return this.invoke(request, session);
    const result = await this.handle(request, session);
    return result.ok ? this.respond(request, result.output, result.timestamp) : wtpError(request, result.problem);
  }

  encode(message: OutboundMessage): WireMessage | undefined {
    if (message.type !== 'notification' || message.thingId === undefined || message.name === undefined) return undefined;
    switch (message.operation) {
      case 'observeproperty':
      case 'subscribeevent': {
        const kind = message.operation === 'observeproperty' ? 'property' : 'event';
        const route = this.subscriptions.route(kind, message.thingId, message.name);
        if (!route) return undefined;
        const payload = kind === 'property' ? { value: message.data } : { data: message.data };
        return wtpNotification({ thingID: message.thingId, name: message.name, ...route }, { ...payload, timestamp: message.timestamp });
      }
      case 'actionstatus':
        return this.actionEnded(message.data as RequestRecord);
      default:
        // Directory and presence notifications: the draft has none (and a WTP socket cannot subscribe to them).
        return undefined;
    }
  }

  private handle(request: WtpRequest, session: Session, operation: HubRequest['operation'] = request.operation): Promise<HubResult> {
    const hubRequest: HubRequest = { operation, thingId: request.thingID };
    if (request.name !== undefined) hubRequest.name = request.name;
    if (request.names !== undefined) hubRequest.names = request.names;
    if (request.actionID !== undefined) hubRequest.actionId = request.actionID;
    if (operation === 'writeproperty') hubRequest.input = request.value;
    if (operation === 'invokeaction' && request.input !== undefined) hubRequest.input = request.input;
    return handleSafely(this.context, hubRequest, session);
  }

  /** The success response of each operation ([wtp-readproperty-response] ff.). */
  private respond(request: WtpRequest, output: unknown, timestamp: string | undefined): WireMessage {
    switch (request.operation) {
      case 'readproperty':
        return wtpResponse(request, { name: request.name, value: output, timestamp: timestamp ?? now() });
      case 'writeproperty':
        // [wtp-writeproperty-response] The write is queued for the agent, not confirmed: no value.
        return wtpResponse(request, { name: request.name, timestamp: now() });
      case 'readallproperties':
      case 'readmultipleproperties':
        return wtpResponse(request, { values: output, timestamp: now() });
      case 'queryaction': {
        const record = output as RequestRecord;
        // [wtp-queryallactions-response] a cancelled action's status need not be kept: the hub shows none.
        if (record.status === 'cancelled') return wtpError(request, notFound(`action '${record.actionId}' was cancelled`).problem);
        return wtpResponse(request, { name: record.name, status: actionStatusOf(record), timestamp: now() });
      }
      case 'cancelaction': {
        const record = output as RequestRecord;
        return wtpResponse(request, { actionID: record.actionId, timestamp: record.timeEnded ?? now() });
      }
      case 'queryallactions':
        return wtpResponse(request, { statuses: statusesOf(output as RequestRecord[]), timestamp: now() });
      default:
        return wtpResponse(request, {});
    }
  }

  /**
   * Observe/subscribe and their undoing: this socket's record of subscriptions changes with the
   * core's, before its answer (a notification may precede it), and is undone if the core refuses.
   */
  private async subscribe(request: WtpRequest, op: { kind: SubscriptionKind; all: boolean; on: boolean }, session: Session): Promise<WireMessage> {
    const { kind } = op;
    let undo: Undo = () => undefined;
    if (op.on) {
      undo = op.all
        ? this.subscriptions.subscribeAll(kind, request.thingID, request.correlationID)
        : this.subscriptions.subscribe(kind, request.thingID, request.name!, request.correlationID);
    } else if (!op.all) {
      undo = this.subscriptions.unsubscribe(kind, request.thingID, request.name!);
    }
    const result = this.handle(request, session);
    if (!op.on && op.all) {
      // [wtp-unobserveallproperties] ends single subscriptions too; in the core those are separate.
      const single = kind === 'property' ? 'unobserveproperty' : 'unsubscribeevent';
      for (const name of this.subscriptions.unsubscribeAll(kind, request.thingID)) void this.handle({ ...request, name }, session, single);
    }
    const outcome = await result;
    if (!outcome.ok) {
      undo();
      return wtpError(request, outcome.problem);
    }
    return wtpResponse(request, op.all ? {} : { name: request.name });
  }

  /**
   * [wtp-invokeaction-response] An action whose affordance says `synchronous: true` is answered
   * with its output once it ended; any other with its ActionStatus at once (queryaction follows it).
   */
  private async invoke(request: WtpRequest, session: Session): Promise<WireMessage | undefined> {
    const td = handleSafely(this.context, { operation: 'retrieveTD', thingId: request.thingID }, session);
    const invoked = this.handle(request, session);
    const [described, result] = await Promise.all([td, invoked]);
    if (!result.ok) return wtpError(request, result.problem);
    const record = result.output as RequestRecord;
    if (described.ok && isSynchronous(described.output, request.name!)) {
      // The end cannot precede this: it needs the agent's answer to a delivery made after the enqueue this awaited.
      this.synchronous.set(record.actionId, request);
      return undefined;
    }
    return wtpResponse(request, { name: request.name, status: actionStatusOf(record), timestamp: record.timeRequested });
  }

  /** The late response to a synchronous action ([wtp-invokeaction-error-response] when it did not complete). */
  private actionEnded(record: RequestRecord): WireMessage | undefined {
    const request = this.synchronous.get(record.actionId);
    if (!request || !TERMINAL.has(record.status)) return undefined;
    this.synchronous.delete(record.actionId);
    if (record.status === 'completed') return wtpResponse(request, { name: request.name, output: record.output, timestamp: record.timeEnded ?? now() });
    const problem = record.error ?? { status: 409, title: 'Conflict', detail: `action '${record.actionId}' was ${record.status} before it completed` };
    return wtpError(request, problem);
  }
}

function isSynchronous(td: unknown, action: string): boolean {
  const actions = (td as { actions?: Record<string, { synchronous?: unknown }> } | undefined)?.actions;
  return actions !== undefined && Object.hasOwn(actions, action) && actions[action].synchronous === true;
}

/** [wtp-queryallactions-response] ActionStatus objects by action name, newest first; writes and cancelled actions left out. */
function statusesOf(records: RequestRecord[]): Record<string, Record<string, unknown>[]> {
  const statuses = new Map<string, Record<string, unknown>[]>();
  const actions = records.filter((record) => record.operation === 'invokeaction' && record.status !== 'cancelled').sort((a, b) => b.seq - a.seq);
  for (const record of actions) {
    const list = statuses.get(record.name) ?? [];
    list.push(actionStatusOf(record));
    statuses.set(record.name, list);
  }
  return Object.fromEntries(statuses);
}
