// Public surface of the twinhub core: the domain model, the envelope, and the Hub.
export * from './model/types.js';
export * from './model/operations.js';
export * from './model/errors.js';
export * from './model/envelope.js';
export * from './model/hub-api.js';
