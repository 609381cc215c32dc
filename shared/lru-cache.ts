/**
 * What the bundles use instead of `mnemonist/lru-cache` (BUNDLING.alias in infra/functions.ts). The
 * DynamoDB client always builds an endpoint cache (@aws-sdk/endpoint-cache) for endpoint discovery,
 * which Switchboard never turns on, on mnemonist's LRU cache: CommonJS with its typed-array and
 * iterator helpers, 7 KB of every bundle for a cache nothing fills. This is the part of mnemonist's
 * `LRUCache` that the endpoint cache calls, on a Map (its order is the recency order), with the same
 * results (test/unit/lru-cache.test.ts checks it against mnemonist).
 */
export default class LRUCache<K, V> {
  private readonly items = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (typeof capacity !== 'number' || capacity <= 0)
      throw new Error('mnemonist/lru-cache: capacity should be positive number.');
  }

  get size(): number {
    return this.items.size;
  }

  has(key: K): boolean {
    return this.items.has(key);
  }

  /** The value without making it the most recently used. */
  peek(key: K): V | undefined {
    return this.items.get(key);
  }

  get(key: K): V | undefined {
    if (!this.items.has(key)) return undefined;
    const value = this.items.get(key) as V;
    this.items.delete(key);
    this.items.set(key, value);
    return value;
  }

  /** Sets the value, most recently used; drops the least recently used beyond capacity. */
  set(key: K, value: V): void {
    this.items.delete(key);
    this.items.set(key, value);
    if (this.items.size > this.capacity) this.items.delete(this.items.keys().next().value as K);
  }

  clear(): void {
    this.items.clear();
  }
}
