// A tiny request/response protocol over a forked child's IPC channel: the parent calls named
// commands, the child answers each one. Used to drive the hub process (setup, stats, close).

import type { ChildProcess } from 'node:child_process';

type Handler = (args: unknown) => Promise<unknown> | unknown;

interface Call {
  type: 'call';
  id: number;
  command: string;
  args: unknown;
}

/** In the child: answers calls with the handlers; a handler error is sent back as a message. */
export function serveCalls(handlers: Record<string, Handler>): void {
  process.on('message', (message: unknown) => {
    const call = message as Call;
    if (call?.type !== 'call') return;
    const handler = handlers[call.command];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${call.command}`);
        process.send?.({ type: 'reply', id: call.id, ok: true, value: await handler(call.args) });
      } catch (error) {
        process.send?.({ type: 'reply', id: call.id, ok: false, error: (error as Error).stack ?? String(error) });
      }
    })();
  });
  // The parent is gone (crashed or killed): nobody will stop us, so stop now.
  process.on('disconnect', () => process.exit(0));
}

/**
 * In the parent: the first IPC message `pick` accepts — it returns `{ value }` to resolve with, an
 * Error to reject with, or undefined to keep waiting. Rejects if the child exits first or the time
 * runs out.
 */
export function awaitMessage<T>(
  child: ChildProcess,
  pick: (message: unknown) => { value: T } | Error | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: nothing from child ${child.pid} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: unknown) => {
      const picked = pick(message);
      if (picked !== undefined) done(picked);
    };
    const onExit = (code: number | null, signal: string | null) => done(new Error(`${what}: child ${child.pid} exited (${code ?? signal}) first`));
    function done(outcome: { value: T } | Error) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome.value);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** In the parent: calls a command of the child and waits for its answer. */
export function callChild<T>(child: ChildProcess, command: string, args: unknown = {}, timeoutMs = 120_000): Promise<T> {
  const id = nextId++;
  // A child that died (e.g. crashed under load) has no channel left: say so at once.
  if (!child.connected) return Promise.reject(new Error(`${command}: child ${child.pid} is gone (${child.exitCode ?? child.signalCode})`));
  const answer = awaitMessage<T>(
    child,
    (message) => {
      const reply = message as { type?: string; id?: number; ok?: boolean; value?: T; error?: string };
      if (reply?.type !== 'reply' || reply.id !== id) return undefined;
      return reply.ok ? { value: reply.value as T } : new Error(`${command} failed in child: ${reply.error}`);
    },
    timeoutMs,
    command,
  );
  // With a callback, a send to a child that just died reports to it instead of throwing an
  // 'error' event; the child's 'exit' then rejects `answer`.
  child.send({ type: 'call', id, command, args } satisfies Call, () => undefined);
  return answer;
}

let nextId = 1;
