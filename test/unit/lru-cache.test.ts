import MnemonistLRUCache from 'mnemonist/lru-cache';
import LRUCache from '../../shared/lru-cache';

/**
 * shared/lru-cache.ts stands in for `mnemonist/lru-cache` in the bundles (BUNDLING.alias): the same
 * answers as mnemonist's LRUCache, operation for operation, for every method the endpoint cache
 * (@aws-sdk/endpoint-cache) calls.
 */
test('answers as mnemonist does over a long random run', () => {
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (const capacity of [1, 2, 5]) {
    const ours = new LRUCache<string, number>(capacity);
    const theirs = new MnemonistLRUCache<string, number>(capacity);
    for (let i = 0; i < 5000; i++) {
      const key = `k${random(8)}`;
      const op = random(10);
      if (op < 4) {
        ours.set(key, i);
        theirs.set(key, i);
      } else if (op < 6) expect(ours.get(key)).toBe(theirs.get(key));
      else if (op < 8) expect(ours.peek(key)).toBe(theirs.peek(key));
      else if (op < 9) expect(ours.has(key)).toBe(theirs.has(key));
      else if (random(50) === 0) {
        ours.clear();
        theirs.clear();
      }
      expect(ours.size).toBe(theirs.size);
    }
  }
});

test('refuses a capacity that is not a positive number, as mnemonist does', () => {
  expect(() => new LRUCache(0)).toThrow('mnemonist/lru-cache: capacity should be positive number.');
  expect(() => new MnemonistLRUCache(0)).toThrow('mnemonist/lru-cache: capacity should be positive number.');
});
