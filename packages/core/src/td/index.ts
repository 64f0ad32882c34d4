// Thing Description handling: validation, value checks against DataSchemas, twin TDs, merge patch.

export { validateThingDescription } from './validate.js';
export { checkThingId, checkAffordanceName } from './names.js';
export { validateAgainstSchema } from './data-schema.js';
export { buildTwinTd, restrictForms, withDefaultSecurity, DISCOVERY_CONTEXT } from './twin-td.js';
export { applyMergePatch, createMergePatch } from './merge-patch.js';
