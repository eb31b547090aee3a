// The calls a peer waits on, by id. Ids are handed out in sequence and most calls end within a
// few dozen of each other, so a ring indexed by the id's low bits finds them without hashing: a
// JavaScript Map's inserts and deletes (with its rehashing as it fills with holes) were about 6%
// of a Node client's time at 64 calls in flight. An id whose slot is taken (a call that outlives
// a ring's worth of others, a stream waiting for its next item) goes to a Map instead.

export interface Waiting {
  id: number;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export class CallTable {
  #ring: (Waiting | undefined)[] = new Array<Waiting | undefined>(64).fill(undefined);
  #mask = 63;
  #overflow = new Map<number, Waiting>();
  #size = 0;

  /** How many calls wait. */
  get size(): number {
    return this.#size;
  }

  /** Records a waiting call (its id must not be waiting already). */
  set(w: Waiting): void {
    // Kept at most half full, so most ids find their slot free.
    if (++this.#size * 2 > this.#ring.length) this.#grow();
    this.#place(w);
  }

  /** The call waiting with `id`, taken out; undefined if none is. */
  take(id: number): Waiting | undefined {
    const i = id & this.#mask;
    const w = this.#ring[i];
    if (w !== undefined && w.id === id) {
      this.#ring[i] = undefined;
      this.#size--;
      return w;
    }
    if (this.#overflow.size === 0) return undefined;
    const o = this.#overflow.get(id);
    if (o !== undefined) {
      this.#overflow.delete(id);
      this.#size--;
    }
    return o;
  }

  /** Every waiting call, taken out. */
  drain(): Waiting[] {
    const all = [...this.#ring.filter((w): w is Waiting => w !== undefined), ...this.#overflow.values()];
    this.#ring.fill(undefined);
    this.#overflow.clear();
    this.#size = 0;
    return all;
  }

  #place(w: Waiting): void {
    const i = w.id & this.#mask;
    if (this.#ring[i] === undefined) this.#ring[i] = w;
    else this.#overflow.set(w.id, w);
  }

  #grow(): void {
    const all = [...this.#ring.filter((w): w is Waiting => w !== undefined), ...this.#overflow.values()];
    this.#ring = new Array<Waiting | undefined>(this.#ring.length * 2).fill(undefined);
    this.#mask = this.#ring.length - 1;
    this.#overflow = new Map();
    for (const w of all) this.#place(w);
  }
}
