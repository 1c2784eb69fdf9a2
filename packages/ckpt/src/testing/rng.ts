/**
 * A small deterministic PRNG (mulberry32) for fuzz tests, so that a failing case can be replayed from its
 * seed.
 *
 * @example
 * const rand = rng(20261125);
 * rand(); // a number in [0, 1), the same sequence for the same seed
 */

/** A generator of numbers in [0, 1) from `seed`. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
