/** A generator of numbers in [0, 1) from a seed, the same on every run. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // In 32-bit integers: the product of two doubles past 2^53 loses its low bits, and the
    // sequence then repeats within some ten thousand numbers.
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s / 4_294_967_296;
  };
}
