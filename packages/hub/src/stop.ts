// Stopping on SIGTERM/SIGINT with a bound: a graceful stop (bindings drain, the store flushes) exits
// 0; one that takes longer than the timeout exits 1 with one log line naming the part that hung.

import type { Logger } from 'pino';
import type { RunningHub } from './server.js';

export interface StopOptions {
  logger: Logger;
  timeoutSeconds: number;
}

/** Installs the signal handlers; call it before announcing readiness (a supervisor may signal at once). */
export function stopOnSignals(running: Pick<RunningHub, 'close' | 'closing'>, options: StopOptions): void {
  const { logger, timeoutSeconds } = options;
  const exit = (code: number) => process.exit(code);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutSeconds }, 'shutting down');
    // Not unref'd: a close that hangs on nothing would otherwise let the process end with 0.
    const timer = setTimeout(() => {
      logger.error({ hung: running.closing() ?? 'unknown', timeoutSeconds }, `shutdown timed out waiting for ${running.closing() ?? 'an unknown part'}`);
      exit(1);
    }, timeoutSeconds * 1000);
    running.close().then(
      () => {
        clearTimeout(timer);
        exit(0);
      },
      (err) => {
        clearTimeout(timer);
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
