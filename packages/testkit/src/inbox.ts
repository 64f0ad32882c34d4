// What a test client received, in arrival order, with waits that fail after a timeout naming what
// was awaited (instead of hanging the test run). Every test client (SSE, WebSocket, MQTT) keeps
// its messages in one of these.

interface Waiter<T> {
  match: (item: T, index: number) => boolean;
  resolve: (item: T) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class Inbox<T> {
  /** Everything received so far. */
  readonly items: T[] = [];
  private taken = 0;
  private readonly waiters = new Set<Waiter<T>>();
  private closed: Error | undefined;

  push(item: T): void {
    const index = this.items.push(item) - 1;
    for (const waiter of [...this.waiters]) if (waiter.match(item, index)) this.settle(waiter, item);
  }

  /** The next item that next() has not returned yet, in arrival order. */
  next(timeoutMs = 5000, what = 'the next message'): Promise<T> {
    const index = this.taken++;
    if (index < this.items.length) return Promise.resolve(this.items[index]);
    return this.wait((_item, at) => at === index, timeoutMs, what);
  }

  /** The first item (received already, or to come) that matches. */
  waitFor(match: (item: T) => boolean, timeoutMs = 5000, what = 'a matching message'): Promise<T> {
    const found = this.items.find(match);
    return found !== undefined ? Promise.resolve(found) : this.wait(match, timeoutMs, what);
  }

  /** Fails every wait from now on (the connection ended), with this reason. */
  close(reason: Error): void {
    this.closed = reason;
    for (const waiter of [...this.waiters]) {
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.reject(reason);
    }
  }

  private wait(match: (item: T, index: number) => boolean, timeoutMs: number, what: string): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.items.length} received)`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private settle(waiter: Waiter<T>, item: T): void {
    this.waiters.delete(waiter);
    clearTimeout(waiter.timer);
    waiter.resolve(item);
  }
}
