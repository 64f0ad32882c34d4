// Structured logs (pino, JSON lines on stderr): quiet by default, detailed at debug.
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'twinhub' } }, pino.destination(2));
}
