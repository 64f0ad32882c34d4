// What a test client received, in arrival order, with waits that fail after a timeout naming what
// was awaited (instead of hanging the test run). Every test client (SSE, WebSocket, MQTT) keeps
// its messages in one of these. Taken messages are released unless the client keeps a history,
// so a test that streams gigabytes through a client does not grow with them.

interface Waiter<T> {
  match: (item: T) => boolean;
  /** Whether the item it settles with is taken (no later take() returns it). */
  takes: boolean;
  resolve: (item: T) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class Inbox<T> {
  /** Received and not taken yet, oldest first. */
  private readonly untaken: T[] = [];
  private readonly history: T[] | undefined;
  private readonly waiters: Waiter<T>[] = [];
  private closed: Error | undefined;

  /** `keepHistory`: remember every item (see `items`), taken or not. */
  constructor(options: { keepHistory?: boolean } = {}) {
    this.history = options.keepHistory ? [] : undefined;
  }

  /** Everything received so far with a history; otherwise what is not taken yet. */
  get items(): readonly T[] {
    return this.history ?? this.untaken;
  }

  push(item: T): void {
    this.history?.push(item);
    let taken = false;
    // Waiters in the order they started: the oldest taker matching gets the item.
    for (const waiter of [...this.waiters]) {
      if (taken || !waiter.match(item)) continue;
      taken = waiter.takes;
      this.settle(waiter, item);
    }
    if (!taken) this.untaken.push(item);
  }

  /** The oldest item not taken yet, taking it. */
  next(timeoutMs = 5000, what = 'message'): Promise<T> {
    return this.take(() => true, timeoutMs, what);
  }

  /** The oldest item not taken yet that matches, taking it (received already, or the next to come). */
  take(match: (item: T) => boolean, timeoutMs = 5000, what = 'matching message'): Promise<T> {
    const index = this.untaken.findIndex(match);
    if (index >= 0) return Promise.resolve(this.untaken.splice(index, 1)[0]);
    return this.wait(match, true, timeoutMs, what);
  }

  /** The first item (in the history, or not taken yet, or to come) that matches, without taking it. */
  waitFor(match: (item: T) => boolean, timeoutMs = 5000, what = 'matching message'): Promise<T> {
    const found = this.items.find(match);
    return found !== undefined ? Promise.resolve(found) : this.wait(match, false, timeoutMs, what);
  }

  /** Fails every wait from now on (the connection ended), with this reason. */
  close(reason: Error): void {
    this.closed = reason;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(reason);
    }
  }

  private wait(match: (item: T) => boolean, takes: boolean, timeoutMs: number, what: string): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        takes,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`no ${what} within ${timeoutMs} ms (${this.items.length} received)`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private settle(waiter: Waiter<T>, item: T): void {
    this.waiters.splice(this.waiters.indexOf(waiter), 1);
    clearTimeout(waiter.timer);
    waiter.resolve(item);
  }
}
