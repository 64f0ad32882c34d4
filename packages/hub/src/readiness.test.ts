// readiness(): 503 naming the bindings that do not listen, else the core's store check.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serviceUnavailable, type HubBinding } from '@twinhub/core';
import { readiness } from './readiness.js';

const binding = (name: string, listening: boolean) => ({ name, listening: () => listening }) as HubBinding;

describe('readiness', () => {
  it('is ready when every binding listens and the store is ready', async () => {
    assert.equal(await readiness({ ready: async () => undefined }, [binding('http', true), binding('mqtt', true)]), undefined);
  });

  it('names every binding that does not listen, before asking the store', async () => {
    let asked = false;
    const problem = await readiness(
      {
        ready: async () => {
          asked = true;
          return undefined;
        },
      },
      [binding('http', true), binding('ws', false), binding('mqtt', false)],
    );
    assert.equal(problem?.status, 503);
    assert.equal(problem?.detail, 'binding ws, mqtt: not listening');
    assert.equal(asked, false);
  });

  it("passes on the store's problem", async () => {
    const store = serviceUnavailable('store: it is full').problem;
    assert.equal(await readiness({ ready: async () => store }, [binding('http', true)]), store);
  });
});
