// The embedded broker's message emitter: aedes' default (mqemitter) with its queue drained without
// recursion.
//
// mqemitter keeps at most `concurrency` messages in delivery and queues the rest. When a delivery
// ends it takes the next message from the queue and delivers it inside the same call, so a
// backlog whose deliveries end synchronously (QoS 0 writes to subscribers) is drained by
// recursion, one level per queued message: under overload (10k publishes/s on the 2-core bench
// machine) the stack overflowed (`RangeError: Maximum call stack size exceeded` in mqemitter's
// `_do`/`released` or qlobber's `_match2`) and the hub died. Past a bounded depth the next
// delivery now starts from `setImmediate`, with its slot kept so messages emitted meanwhile queue
// behind it: the order is the same, the stack stays shallow, and I/O runs between slices.

import mqemitter from 'mqemitter';

/** Deliveries started inside one another at most before the next one is deferred. */
export const MAX_DELIVERY_DEPTH = 64;
/** Deferred deliveries started per event-loop turn: I/O runs between slices of a long backlog. */
const DEFERRED_PER_TURN = 1024;

type Done = (error?: unknown) => void;
type Emitter = mqemitter.MQEmitter & {
  /** mqemitter's delivery of one message (its `released` callback calls it for the next queued one). */
  _do(message: mqemitter.Message, callback: Done): unknown;
  /** Messages in delivery now (mqemitter's own count, compared with `concurrency`). */
  current: number;
};

/** An mqemitter for `Aedes.createBroker({ mq })` that never recurses deeper than MAX_DELIVERY_DEPTH. */
export function createBrokerEmitter(concurrency = 100): mqemitter.MQEmitter {
  const emitter = mqemitter({ concurrency }) as Emitter;
  const deliver = emitter._do;
  if (typeof deliver !== 'function' || typeof emitter.current !== 'number') {
    // Another mqemitter major without these internals: its own behaviour, unbounded as before.
    return emitter;
  }
  let depth = 0;
  /** Deliveries deferred, oldest first: while any waits, later ones wait behind it (the order stays). */
  const deferred: Array<[mqemitter.Message, Done]> = [];
  let scheduled = false;
  const start = (message: mqemitter.Message, callback: Done) => {
    depth++;
    try {
      deliver.call(emitter, message, callback);
    } finally {
      depth--;
    }
  };
  const drain = () => {
    scheduled = false;
    for (let started = 0; deferred.length > 0 && started < DEFERRED_PER_TURN; started++) {
      const [message, callback] = deferred.shift() as [mqemitter.Message, Done];
      emitter.current--; // its slot, held while it waited
      start(message, callback);
    }
    if (deferred.length > 0 && !scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  };
  emitter._do = (message, callback) => {
    if (deferred.length > 0 || depth >= MAX_DELIVERY_DEPTH) {
      // Hold a slot while it waits: emit() keeps queueing new messages as if it were in delivery.
      emitter.current++;
      deferred.push([message, callback]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
      return emitter;
    }
    start(message, callback);
    return emitter;
  };
  return emitter;
}
