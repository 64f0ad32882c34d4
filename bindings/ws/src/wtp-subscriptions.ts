// Which Web Thing Protocol subscription of one socket a property change or event belongs to: the
// draft's notifications carry the operation and correlationID of the subscription that asked for
// them, and a newer subscription replaces an older one ("last subscription wins").

export type SubscriptionKind = 'property' | 'event';

/** One subscription: the correlationID its notifications echo (none when the request had none). */
interface Subscription {
  correlationID: string | undefined;
}

interface ThingSubscriptions {
  /** observeallproperties / subscribeallevents, if active. */
  all?: Subscription;
  /** Per-affordance subscriptions, which take precedence over `all` for their affordance. */
  named: Map<string, Subscription>;
  /** Affordances unsubscribed one by one while `all` stays active (the core cannot express "all but these"). */
  excluded: Set<string>;
  /** Names subscribed one by one in the core since the last unsubscribe-all: the core subscriptions to end then. */
  held: Set<string>;
}

/** The operations a notification is sent under, by kind and whether it came from a single or an all-subscription. */
const OPERATIONS = {
  property: { named: 'observeproperty', all: 'observeallproperties' },
  event: { named: 'subscribeevent', all: 'subscribeallevents' },
} as const;

/** Undoes a subscription the core refused, unless a later request replaced it already. */
export type Undo = () => void;

export class WtpSubscriptions {
  private readonly things = new Map<string, ThingSubscriptions>();

  /**
   * [wtp-observeproperty] / [wtp-subscribeevent]: registers or replaces the subscription to one
   * affordance. Applied before the core answers, so a notification racing the answer is routed.
   */
  subscribe(kind: SubscriptionKind, thingID: string, name: string, correlationID: string | undefined): Undo {
    const thing = this.thing(kind, thingID);
    const previous = thing.named.get(name);
    const wasExcluded = thing.excluded.has(name);
    const wasHeld = thing.held.has(name);
    const subscription = { correlationID };
    thing.named.set(name, subscription);
    thing.excluded.delete(name);
    thing.held.add(name);
    return () => {
      if (thing.named.get(name) !== subscription) return;
      if (previous) thing.named.set(name, previous);
      else thing.named.delete(name);
      if (wasExcluded) thing.excluded.add(name);
      if (!wasHeld) thing.held.delete(name);
      this.prune(kind, thingID, thing);
    };
  }

  /** [wtp-unobserveproperty] removes one affordance's subscription, even one an all-subscription made. */
  unsubscribe(kind: SubscriptionKind, thingID: string, name: string): Undo {
    const thing = this.things.get(keyOf(kind, thingID));
    if (!thing) return () => undefined;
    const previous = thing.named.get(name);
    const excludes = thing.all !== undefined && !thing.excluded.has(name);
    thing.named.delete(name);
    thing.held.delete(name);
    if (excludes) thing.excluded.add(name);
    // Refused (an unknown name, say): nothing changed in the core, so nothing changes here either.
    return () => {
      if (excludes) thing.excluded.delete(name);
      if (previous && !thing.named.has(name)) {
        thing.named.set(name, previous);
        thing.held.add(name);
      }
    };
  }

  /** [wtp-observeallproperties] replaces every subscription of that kind to the Thing with one for all affordances. */
  subscribeAll(kind: SubscriptionKind, thingID: string, correlationID: string | undefined): Undo {
    const thing = this.thing(kind, thingID);
    const before = { all: thing.all, named: new Map(thing.named), excluded: new Set(thing.excluded) };
    const subscription = { correlationID };
    thing.all = subscription;
    thing.named.clear();
    thing.excluded.clear();
    return () => {
      if (thing.all !== subscription) return;
      thing.all = before.all;
      for (const [name, previous] of before.named) thing.named.set(name, previous);
      for (const name of before.excluded) thing.excluded.add(name);
      this.prune(kind, thingID, thing);
    };
  }

  /** [wtp-unobserveallproperties] ends every subscription of that kind to the Thing; returns the names to end in the core too. */
  unsubscribeAll(kind: SubscriptionKind, thingID: string): string[] {
    const key = keyOf(kind, thingID);
    const held = [...(this.things.get(key)?.held ?? [])];
    this.things.delete(key);
    return held;
  }

  /** The operation and correlationID a notification is sent under; undefined: nobody on this socket asked for it. */
  route(kind: SubscriptionKind, thingID: string, name: string): { operation: string; correlationID: string | undefined } | undefined {
    const thing = this.things.get(keyOf(kind, thingID));
    if (!thing) return undefined;
    const named = thing.named.get(name);
    if (named) return { operation: OPERATIONS[kind].named, correlationID: named.correlationID };
    if (thing.all && !thing.excluded.has(name)) return { operation: OPERATIONS[kind].all, correlationID: thing.all.correlationID };
    return undefined;
  }

  /** Forgets a Thing nothing is subscribed to any more (refused requests for unknown Things must not pile up). */
  private prune(kind: SubscriptionKind, thingID: string, thing: ThingSubscriptions): void {
    const key = keyOf(kind, thingID);
    if (this.things.get(key) === thing && !thing.all && thing.named.size === 0 && thing.held.size === 0) this.things.delete(key);
  }

  private thing(kind: SubscriptionKind, thingID: string): ThingSubscriptions {
    const key = keyOf(kind, thingID);
    let thing = this.things.get(key);
    if (!thing) this.things.set(key, (thing = { named: new Map(), excluded: new Set(), held: new Set() }));
    return thing;
  }
}

function keyOf(kind: SubscriptionKind, thingID: string): string {
  return `${kind}\n${thingID}`;
}
