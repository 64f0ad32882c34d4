// A bounded FIFO for what an agent sends while it cannot reach the hub (reports, events): when full,
// the oldest entry is dropped and counted, and the owner warned, so memory stays bounded and the
// loss is visible rather than silent.

export class OfflineBuffer<T> {
  readonly #items: T[] = [];
  #dropped = 0;

  constructor(
    readonly capacity: number,
    private readonly onDrop: (dropped: T, droppedSoFar: number) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`buffer capacity must be a positive integer, got ${capacity}`);
  }

  push(item: T): void {
    if (this.#items.length >= this.capacity) {
      const oldest = this.#items.shift() as T;
      this.#dropped += 1;
      this.onDrop(oldest, this.#dropped);
    }
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  /** Removes the head if it is `item` (it may have been dropped meanwhile). */
  remove(item: T): void {
    if (this.#items[0] === item) this.#items.shift();
    else {
      const index = this.#items.indexOf(item);
      if (index >= 0) this.#items.splice(index, 1);
    }
  }

  get length(): number {
    return this.#items.length;
  }

  /** How many entries were dropped since the start because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  drain(): T[] {
    return this.#items.splice(0);
  }
}
