// Public surface of the twinhub core: the domain model, the envelope, and the Hub.
export * from './model/types.js';
export * from './model/operations.js';
export * from './model/errors.js';
export * from './model/envelope.js';
export * from './model/hub-api.js';
export * from './model/observer.js';
export { createHub, Hub, type HubOptions } from './hub.js';
export type { TokenInfo, ClientInfo, CreatedToken } from './auth/tokens.js';
export { AuthFailures, AUTH_FAILURE_LOG_INTERVAL_MS, AUTH_FAILURE_MAX_DELAY_MS, type AuthFailure } from './auth/failures.js';
export { PERMISSIONS, canSee } from './auth/permissions.js';
export { validateThingDescription, checkThingId, buildTwinTd, withDefaultSecurity, DISCOVERY_CONTEXT } from './td/index.js';
export {
  DEFAULT_HISTORY,
  HISTORY_ANNOTATION,
  TWINHUB_VOCABULARY,
  type HistoryDefaults,
  type HistoryPolicy,
  type ThingHistoryPolicy,
  type EffectivePolicy,
} from './history/policy.js';
export { AGGREGATES, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, MAX_SCANNED_SAMPLES, type Aggregate } from './history/query.js';
export { linearJsonPath } from './query/jsonpath-environment.js';
