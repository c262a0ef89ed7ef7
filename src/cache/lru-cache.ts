/**
 * A per-process cache of at most `capacity` entries that forgets the least recently used first, and each entry at
 * its own deadline. A Map keeps insertion order, so moving an entry to the end on use is all the bookkeeping an LRU
 * needs: a dozen lines do not earn a dependency.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAtMs: number }>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`LruCache capacity must be a positive integer (got ${capacity})`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, unless absent or past its deadline (then forgotten). */
  get(key: K, nowMs = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (nowMs >= entry.expiresAtMs) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Holds `value` until `expiresAtMs` (forever by default), forgetting the least recently used entry when full. */
  set(key: K, value: V, expiresAtMs = Infinity): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
