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

/** In the parent: calls a command of the child and waits for its answer. */
export function callChild<T>(child: ChildProcess, command: string, args: unknown = {}, timeoutMs = 120_000): Promise<T> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${command}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: unknown) => {
      const reply = message as { type?: string; id?: number; ok?: boolean; value?: T; error?: string };
      if (reply?.type !== 'reply' || reply.id !== id) return;
      if (reply.ok) done(undefined, reply.value);
      else done(new Error(`${command} failed in child: ${reply.error}`));
    };
    const onExit = () => done(new Error(`${command}: child exited`));
    function done(error?: Error, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ type: 'call', id, command, args } satisfies Call);
  });
}

let nextId = 1;
