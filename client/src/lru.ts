/** A set that remembers only its `limit` most recently added keys (Map keeps insertion order). */
export class LruSet {
  private readonly keys = new Map<string, true>();
  constructor(private readonly limit: number) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    this.keys.delete(key);
    this.keys.set(key, true);
    if (this.keys.size > this.limit) this.keys.delete(this.keys.keys().next().value as string);
  }
}
