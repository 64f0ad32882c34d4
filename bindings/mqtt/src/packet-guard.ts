// Bounds what one MQTT packet can make the hub buffer. mqtt-packet collects a whole packet (up to
// 256 MiB by the protocol) before aedes sees any of it, so without this a single client could make
// the hub hold that much. The guard only reads fixed headers and skips bodies, so it costs almost
// nothing per byte, and it cuts a connection as soon as a header announces an oversize packet.

/** Returns a function fed with every chunk of one connection, in order; it returns the announced size of the first packet over `maxPacketBytes`, or undefined while all are within it. */
export function createPacketSizeGuard(maxPacketBytes: number): (chunk: Uint8Array) => number | undefined {
  let headerBytes = 0; // bytes of the current fixed header seen (type byte + remaining-length bytes)
  let remaining = 0; // remaining length being decoded
  let multiplier = 1;
  let skip = 0; // body bytes of the current packet still to pass over
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const step = Math.min(skip, chunk.length - i);
        skip -= step;
        i += step;
        continue;
      }
      const byte = chunk[i++];
      if (headerBytes === 0) {
        headerBytes = 1; // packet type and flags
        remaining = 0;
        multiplier = 1;
        continue;
      }
      headerBytes++;
      remaining += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if (byte & 0x80) {
        // A remaining length has at most four bytes; a longer one is malformed (mqtt-packet refuses it too).
        if (headerBytes > 5) return remaining;
        continue;
      }
      if (remaining > maxPacketBytes) return remaining;
      skip = remaining;
      headerBytes = 0;
    }
    return undefined;
  };
}
