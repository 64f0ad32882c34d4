// What a test client received, in arrival order, with waits that fail after a timeout naming what
// was awaited (instead of hanging the test run). Every test client (SSE, WebSocket, MQTT) keeps
// its messages in one of these.

interface Waiter<T> {
  match: (item: T) => boolean;
  /** Whether the item it settles with is taken (no later take() returns it). */
  takes: boolean;
  resolve: (item: T) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class Inbox<T> {
  /** Everything received so far, taken or not. */
  readonly items: T[] = [];
  private readonly taken: boolean[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private closed: Error | undefined;

  push(item: T): void {
    const index = this.items.push(item) - 1;
    this.taken.push(false);
    // Waiters in the order they started: the oldest taker matching gets the item.
    for (const waiter of [...this.waiters]) {
      if (this.taken[index] || !waiter.match(item)) continue;
      if (waiter.takes) this.taken[index] = true;
      this.settle(waiter, item);
    }
  }

  /** The oldest item not taken yet, taking it. */
  next(timeoutMs = 5000, what = 'message'): Promise<T> {
    return this.take(() => true, timeoutMs, what);
  }

  /** The oldest item not taken yet that matches, taking it (received already, or the next to come). */
  take(match: (item: T) => boolean, timeoutMs = 5000, what = 'matching message'): Promise<T> {
    const index = this.items.findIndex((item, i) => !this.taken[i] && match(item));
    if (index >= 0) {
      this.taken[index] = true;
      return Promise.resolve(this.items[index]);
    }
    return this.wait(match, true, timeoutMs, what);
  }

  /** The first item (taken or not, received already or to come) that matches, without taking it. */
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
