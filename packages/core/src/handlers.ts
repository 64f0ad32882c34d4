// Every operation's handler, by name: the one table the Hub facade runs requests through. Each
// domain brings its own table; an operation belongs to exactly one of them.

import { clientHandlers } from './clients/handlers.js';
import type { HandlerTable } from './core-context.js';
import { directoryHandlers } from './directory/handlers.js';
import { historyHandlers } from './history/handlers.js';
import { jobHandlers } from './jobs/handlers.js';
import { presenceHandlers } from './presence/handlers.js';
import { requestHandlers } from './requests/handlers.js';
import { stateHandlers } from './state/handlers.js';
import { twinHandlers } from './twin/handlers.js';

export const HANDLERS: HandlerTable = {
  ...directoryHandlers,
  ...stateHandlers,
  ...requestHandlers,
  ...presenceHandlers,
  ...clientHandlers,
  ...twinHandlers,
  ...jobHandlers,
  ...historyHandlers,
};
