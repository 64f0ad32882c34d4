import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonCache } from './json-cache.js';

describe('JsonCache', () => {
  it('serializes like JSON.stringify, reusing the text of the same object only', () => {
    const cache = new JsonCache(1024);
    const td = { id: 'urn:a', title: 'A' };
    assert.equal(cache.json(td).toString(), JSON.stringify(td));
    assert.equal(cache.size, 1);
    assert.equal(cache.json(td).toString(), JSON.stringify(td));
    assert.equal(cache.size, 1);
    const replaced = { ...td, title: 'B' }; // a changed twin comes as a new object
    assert.equal(cache.json(replaced).toString(), JSON.stringify(replaced));
    assert.equal(cache.size, 2);
    const items = [td, replaced, 3, 'x', null];
    assert.equal(cache.list(items).toString(), JSON.stringify(items));
    assert.equal(cache.list([]).toString(), '[]');
  });

  it('stays within its byte budget, dropping the least recently used text first', () => {
    const serialized: number[] = [0, 0, 0, 0, 0];
    // toJSON counts how often each object is actually serialized.
    const objects = serialized.map((_, n) => ({
      toJSON: () => {
        serialized[n]++;
        return { n, pad: 'p'.repeat(20) };
      },
    }));
    const cache = new JsonCache(3 * JSON.stringify(objects[0]).length); // room for three
    serialized[0] = 0;
    for (const o of objects.slice(0, 3)) cache.json(o);
    cache.json(objects[0]); // a hit, and now the most recently used
    assert.deepEqual(serialized, [1, 1, 1, 0, 0]);
    cache.json(objects[3]); // a fourth: the least recently used (objects[1]) goes
    assert.equal(cache.size, 3);
    cache.json(objects[0]);
    cache.json(objects[2]);
    cache.json(objects[3]);
    assert.deepEqual(serialized, [1, 1, 1, 1, 0], 'objects 0, 2 and 3 were still cached');
    cache.json(objects[1]);
    assert.deepEqual(serialized, [1, 2, 1, 1, 0], 'objects[1] had been dropped');
    cache.json({ big: 'b'.repeat(200) });
    assert.equal(cache.size, 0, 'a text larger than the budget is not kept, nor anything older');
  });
});
