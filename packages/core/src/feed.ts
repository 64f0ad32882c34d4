// The change feed: records other writers of the store committed (other hub instances, in cluster
// mode) reach this hub's view through the same domain paths as its own changes — apply to the
// view, then notify. A single-process store (LevelDB) never reports any.

import type { StoreChange } from '@twinhub/bucket';
import type { ClientRecord, StoredToken } from './auth/tokens.js';
import type { HubCore } from './core-context.js';
import { applyTwinRecord } from './directory/handlers.js';
import { TWINS_BUCKET } from './directory/directory.js';
import type { JobRecord, RequestRecord, Twin } from './model/types.js';
import { REQUESTS_BUCKET } from './requests/queue.js';
import { applyStateRecord } from './state/handlers.js';
import { STATE_BUCKET } from './state/state.js';
import { CLIENTS_BUCKET, TOKENS_BUCKET, type TokenService } from './auth/tokens.js';
import { JOBS_BUCKET } from './jobs/book.js';
import { HISTORY_POLICY_BUCKET } from './history/service.js';
import type { ThingHistoryPolicy } from './history/policy.js';

export function applyChanges(core: HubCore, tokens: TokenService, changes: readonly StoreChange[]): void {
  for (const change of changes) {
    try {
      const record: unknown = change.value === undefined ? undefined : JSON.parse(change.value);
      switch (change.bucket) {
        case TWINS_BUCKET:
          applyTwinRecord(core, change.key, record as Twin | undefined, change.revision);
          break;
        case STATE_BUCKET:
          applyStateRecord(core, change.key, record as object | undefined, change.revision);
          break;
        case REQUESTS_BUCKET:
          core.requests.applyRecord(change.key, record as RequestRecord | undefined, (thingId) => core.directory.get(thingId)?.agentId, change.revision);
          break;
        case TOKENS_BUCKET:
          tokens.applyRecord(change.key, record as Omit<StoredToken, 'hash'> | undefined);
          break;
        case CLIENTS_BUCKET:
          tokens.applyClientRecord(change.key, record as ClientRecord | undefined);
          break;
        case JOBS_BUCKET:
          core.jobs.book.applyRecord(change.key, record as JobRecord | undefined);
          break;
        case HISTORY_POLICY_BUCKET:
          core.history.applyPolicyRecord(change.key, record as ThingHistoryPolicy | undefined);
          break;
        default:
          // Cluster membership (instances, presence, the sweep lease), else buckets the view does
          // not hold (history samples, read from the store; the notification sequence; metadata).
          core.membership.apply(change);
          break;
      }
    } catch (error) {
      core.log.error({ err: error, bucket: change.bucket, key: change.key }, 'could not apply a change from another writer');
    }
  }
}
