// Serialized JSON of objects served again and again unchanged: the core hands out the same twin
// TD object until that twin (or the set of TD contributors) changes, so its bytes can be reused.
// Kept as UTF-8 bytes (a response is written without re-encoding), bounded by bytes, least
// recently used out first.

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

export class JsonCache {
  private readonly texts = new Map<object, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** JSON.stringify(value) as UTF-8, from the cache when this very object was serialized before. */
  json(value: object): Buffer {
    const cached = this.texts.get(value);
    if (cached !== undefined) {
      this.texts.delete(value);
      this.texts.set(value, cached);
      return cached;
    }
    const json = Buffer.from(JSON.stringify(value));
    this.texts.set(value, json);
    this.bytes += json.length;
    for (const [oldest, old] of this.texts) {
      if (this.bytes <= this.maxBytes) break;
      this.texts.delete(oldest);
      this.bytes -= old.length;
    }
    return json;
  }

  /** A JSON array of `values`, reusing the bytes of each cached object. */
  list(values: readonly unknown[]): Buffer {
    const parts: Buffer[] = [OPEN];
    values.forEach((value, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(typeof value === 'object' && value !== null ? this.json(value) : Buffer.from(JSON.stringify(value) ?? 'null'));
    });
    parts.push(CLOSE);
    return Buffer.concat(parts);
  }

  get size(): number {
    return this.texts.size;
  }
}
