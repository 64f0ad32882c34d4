// The runnable hub: configuration and wiring, for the CLI and for tests that start a whole hub.
export { startHub, openStore, type RunningHub } from './server.js';
export { defaultConfig, resolveConfig, ConfigError, type HubConfig } from './config.js';
export { createLogger } from './logger.js';
