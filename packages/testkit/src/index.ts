// @twinhub/testkit: what the bindings' and end-to-end tests share — the lamp TD, a token per role,
// an inbox that waits with a timeout, and one startFixture() for a hub with chosen bindings.
// A devDependency only: nothing here ships in a production dependency.
export { lampTd, LAMP_ID } from './lamp.js';
export { createTokens, type RoleTokens } from './tokens.js';
export { Inbox } from './inbox.js';
export { flakyMemoryStore } from './flaky.js';
export { startFixture, type Fixture, type FixtureOptions } from './fixture.js';
export { captureLogs, eventually, FlakyStore, HoldingHub } from '@twinhub/core/testing';
