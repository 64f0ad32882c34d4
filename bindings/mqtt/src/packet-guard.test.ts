import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPacketSizeGuard } from './packet-guard.js';

/** An MQTT packet: type byte, remaining length (variable-length integer), body. */
function packet(bodyLength: number): Buffer {
  const length: number[] = [];
  let x = bodyLength;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    length.push(byte);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x30, ...length]), Buffer.alloc(bodyLength, 7)]);
}

describe('MQTT packet size guard', () => {
  it('lets packets within the bound through, however the stream is chunked', () => {
    const stream = Buffer.concat([packet(0), packet(5), packet(127), packet(128), packet(20_000), packet(3)]);
    for (const chunkSize of [1, 2, 3, 7, 100, stream.length]) {
      const guard = createPacketSizeGuard(20_000);
      for (let at = 0; at < stream.length; at += chunkSize) {
        assert.equal(guard(stream.subarray(at, at + chunkSize)), undefined, `chunks of ${chunkSize}`);
      }
    }
  });

  it('reports a packet announcing more than the bound from its header alone, even split mid-header', () => {
    const header = packet(300_000).subarray(0, 4); // type + 3 length bytes, no body sent
    const guard = createPacketSizeGuard(100_000);
    assert.equal(guard(packet(10)), undefined);
    assert.equal(guard(header.subarray(0, 2)), undefined);
    assert.equal(guard(header.subarray(2)), 300_000);
  });

  it('reports a malformed remaining length of more than four bytes', () => {
    const guard = createPacketSizeGuard(100);
    assert.notEqual(guard(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), undefined);
  });
});
