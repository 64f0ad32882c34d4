// Twin state: the latest reported property values, desired values and pending writes, and the
// latest data of each event. Kept in memory (hot path) and persisted by the hub, one record per
// Thing, through the group-committing PersistQueue.

import type { BucketStore } from '@twinhub/bucket';
import type { ThingDescription, TwinState } from '../model/types.js';
import { preconditionFailed } from '../model/errors.js';

export const STATE_BUCKET = 'state';

export class TwinStateStore {
  private readonly states = new Map<string, TwinState>();

  async load(store: BucketStore): Promise<void> {
    for await (const [thingId, json] of store.bucket(STATE_BUCKET).entries()) {
      this.states.set(thingId, JSON.parse(json) as TwinState);
    }
  }

  /** The state of a Thing, created empty on first use. */
  get(thingId: string): TwinState {
    let state = this.states.get(thingId);
    if (!state) this.states.set(thingId, (state = { thingId, properties: {}, events: {}, version: 0 }));
    return state;
  }

  /** Drops values of properties and events the (new) TD no longer has. Returns whether anything changed. */
  reconcile(thingId: string, td: ThingDescription): boolean {
    const state = this.get(thingId);
    let changed = false;
    for (const [section, names] of [
      [state.properties, Object.keys((td.properties as object | undefined) ?? {})],
      [state.events, Object.keys((td.events as object | undefined) ?? {})],
    ] as const) {
      const keep = new Set(names);
      for (const name of Object.keys(section)) {
        if (!keep.has(name)) {
          delete (section as Record<string, unknown>)[name];
          changed = true;
        }
      }
    }
    if (changed) state.version++;
    return changed;
  }

  remove(thingId: string): void {
    this.states.delete(thingId);
  }

  /** Records reported values (already validated). */
  report(thingId: string, values: Record<string, unknown>, now: string): TwinState {
    const state = this.get(thingId);
    for (const [name, value] of Object.entries(values)) {
      const property = (state.properties[name] ??= {});
      property.value = value;
      property.updated = now;
    }
    state.version++;
    return state;
  }

  /** Records a consumer's desired value and the write request carrying it. */
  setDesired(thingId: string, name: string, value: unknown, actionId: string, now: string, ifVersion?: number): TwinState {
    const state = this.get(thingId);
    if (ifVersion !== undefined && ifVersion !== state.version) {
      throw preconditionFailed(`the state of Thing '${thingId}' is at version ${state.version}, not ${ifVersion}; re-read it and retry`);
    }
    const property = (state.properties[name] ??= {});
    property.desired = value;
    property.desiredAt = now;
    property.pendingWrite = actionId;
    state.version++;
    return state;
  }

  /** Clears the pending-write marker once that write ended. Returns whether it was still pending. */
  endWrite(thingId: string, name: string, actionId: string): boolean {
    const property = this.states.get(thingId)?.properties[name];
    if (!property || property.pendingWrite !== actionId) return false;
    delete property.pendingWrite;
    this.get(thingId).version++;
    return true;
  }

  recordEvent(thingId: string, name: string, data: unknown, now: string): TwinState {
    const state = this.get(thingId);
    state.events[name] = { data, time: now };
    state.version++;
    return state;
  }
}
