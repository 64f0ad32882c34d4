// Readiness of the whole hub for GET /health/ready: every binding serves and the store takes
// writes. The HTTP binding asks through this callback, so it never needs to know the other bindings.

import { serviceUnavailable, type HubApi, type HubBinding, type Problem } from '@twinhub/core';

/** undefined when ready; otherwise a 503 problem naming the binding(s) or the store that fail. */
export async function readiness(hub: Pick<HubApi, 'ready'>, bindings: readonly HubBinding[]): Promise<Problem | undefined> {
  const down = bindings.filter((binding) => !binding.listening()).map((binding) => binding.name);
  if (down.length > 0) return serviceUnavailable(`binding ${down.join(', ')}: not listening`).problem;
  return hub.ready();
}
