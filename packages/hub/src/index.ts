// The runnable hub: configuration and wiring, for the CLI and for tests that start a whole hub.
export { startHub, openStore, type RunningHub, type StartOptions } from './server.js';
export { stopOnSignals } from './stop.js';
export { defaultConfig, resolveConfig, ConfigError, type HubConfig } from './config.js';
export { createLogger } from './logger.js';
