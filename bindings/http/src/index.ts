// @twinhub/binding-http: the REST + SSE binding (WoT Discovery Things API, property/action/event
// routes, agent routes) over plain node:http.
export { createHttpBinding, type HttpBinding, type HttpBindingOptions } from './binding.js';
export type { ReadinessCheck } from './health-routes.js';
export { createHttpTdContributor, BEARER_SCHEME, type FormOptions } from './forms.js';
