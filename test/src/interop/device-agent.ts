// A device agent for the node-wot interop tests, on the WebSocket binding: registers a lamp TD,
// reports initial values, answers writes by reporting the value back and completing the request,
// answers `fade` with an output, and publishes events on demand.

import assert from 'node:assert/strict';
import { lampTd } from '@twinhub/binding-http/testing';
import { connectWs, type WsTestClient } from '@twinhub/binding-ws/testing';
import type { AgentRequestMessage, HubRequest } from '@twinhub/core';

export interface DeviceAgent {
  /** Every request the hub delivered, in order. */
  readonly received: AgentRequestMessage[];
  /** Errors while answering requests (should stay empty). */
  readonly failures: unknown[];
  report(name: string, value: unknown): Promise<void>;
  publish(event: string, data: unknown): Promise<void>;
  close(): Promise<void>;
}

export async function startDeviceAgent(wsUrl: string, token: string, thingId: string): Promise<DeviceAgent> {
  const ws: WsTestClient = await connectWs(wsUrl, { token });
  const ok = async (request: HubRequest) => {
    const response = await ws.request(request);
    assert.ok(response.status < 300, `${request.operation}: ${JSON.stringify(response.error)}`);
  };
  await ok({ operation: 'updateTD', input: lampTd(thingId) });
  const report = (name: string, value: unknown) => ok({ operation: 'updateproperty', thingId, name, input: value });
  await report('brightness', 5);
  await report('status', 'on');
  await report('blob', '');

  const received: AgentRequestMessage[] = [];
  const failures: unknown[] = [];
  let closed = false;
  const answer = async (request: AgentRequestMessage) => {
    received.push(request);
    if (request.operation === 'writeproperty') {
      // A real device applies the value, then reports what it now has.
      await report(request.name, request.input);
      await ok({ operation: 'updateactionstatus', actionId: request.actionId, input: { status: 'completed' } });
    } else if (request.name === 'fade') {
      const { level } = request.input as { level: number };
      await ok({ operation: 'updateactionstatus', actionId: request.actionId, input: { status: 'completed', output: { reached: level } } });
    }
  };
  const serving = (async () => {
    while (!closed) {
      let request: AgentRequestMessage;
      try {
        request = await ws.nextAgentRequest(60_000);
      } catch (error) {
        if ((error as Error).message.startsWith('socket closed')) return;
        continue; // a quiet minute
      }
      await answer(request).catch((error: unknown) => {
        if (!closed) failures.push(error);
      });
    }
  })();
  await ok({ operation: 'subscriberequests' });

  return {
    received,
    failures,
    report,
    publish: (event, data) => ok({ operation: 'publishevent', thingId, name: event, input: data }),
    async close() {
      closed = true;
      await ws.close();
      await serving;
    },
  };
}

/** Repeats `act` until `done()` holds: a subscription lands on the hub shortly after the client's call returns. */
export async function repeatUntil(done: () => boolean, act: (attempt: number) => Promise<void>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; !done(); attempt++) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await act(attempt);
    const until = Date.now() + 250;
    while (!done() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
