/**
 * The simulator's only source of randomness: every choice comes from one seeded generator, drawn while planning and
 * before anything runs concurrently, so the same seed plans the same devices and traffic every time.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A new array in random order; the input is left alone. */
  shuffle<T>(items: readonly T[]): T[];
  /** `bytes` random bytes as lower-case hex. */
  hex(bytes: number): string;
}

/** A seed from a number or any text (`--seed demo`), as an unsigned 32-bit integer (FNV-1a over the text). */
export function seedFrom(value: string | number): number {
  const text = String(value);
  if (/^\d+$/.test(text) && Number(text) <= 0xffffffff) return Number(text);
  let hash = 0x811c9dc5;
  for (const char of text) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Marsaglia's xorshift32 on a scrambled seed: statistically plain, but fast, tiny and reproducible on every runtime,
 * which is all a traffic plan needs.
 */
export function seededRandom(seed: number): Random {
  // Scramble so that neighbouring seeds (1, 2, 3) start far apart; xorshift cannot leave the zero state, so avoid it.
  let state = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1) >>> 0 || 0x6d2b79f5;
  const next = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  // The first outputs still echo the seed's bits; let them go.
  for (let i = 0; i < 8; i++) next();

  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (probability) => next() < probability,
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[int(0, items.length - 1)]!;
    },
    shuffle: (items) => {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = int(0, i);
        [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      }
      return copy;
    },
    hex: (bytes) => Array.from({ length: bytes }, () => int(0, 255).toString(16).padStart(2, '0')).join(''),
  };
}
