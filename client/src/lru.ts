/** A map that keeps only its `limit` most recently set keys (a Map iterates in insertion order). */
export class LruMap<K, V> {
  private readonly _entries = new Map<K, V>();
  constructor(private readonly _limit: number) {}

  get(key: K): V | undefined {
    return this._entries.get(key);
  }

  set(key: K, value: V): void {
    this._entries.delete(key);
    this._entries.set(key, value);
    if (this._entries.size > this._limit) this._entries.delete(this._entries.keys().next().value as K);
  }
}
