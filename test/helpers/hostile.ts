/**
 * Hostile input for property-based tests (fast-check): seeded, so a failure reproduces — the seed is
 * fixed, or `SNAPBACK_FC_SEED` replaces it, and fast-check prints the seed and path of any failure.
 */
import fc from 'fast-check';

export const FC_SEED = Number(process.env['SNAPBACK_FC_SEED'] ?? 20_260_601);

export function fcOptions(numRuns: number): fc.Parameters<unknown> {
  return { seed: FC_SEED, numRuns, endOnFailure: true };
}

/** Letters that look like a-z but are not: fullwidth, Cyrillic, Greek, a Unicode hyphen, zero-width space. */
export const LOOK_ALIKES: Readonly<Record<string, string>> = {
  a: 'а', // Cyrillic a (U+0430)
  c: 'с', // Cyrillic es (U+0441)
  e: 'е', // Cyrillic ie (U+0435)
  o: 'о', // Cyrillic o (U+043E)
  p: 'р', // Cyrillic er (U+0440)
  k: 'ｋ', // fullwidth k (U+FF4B)
  t: 'ｔ', // fullwidth t (U+FF54)
  i: 'і', // Cyrillic i (U+0456)
  '-': '‐', // hyphen (U+2010)
  '1': '１', // fullwidth 1 (U+FF11)
};

/** Valid DNS-1123 labels (short). */
export const validLabel = (): fc.Arbitrary<string> =>
  fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);

const fragments = [
  '..',
  '../',
  '/..',
  '/',
  '\\',
  '\0',
  '%2e%2e',
  '%00',
  '\n',
  '.',
  ' ',
  '/etc/passwd',
  '~',
  '*',
  'A',
  '_',
  '\u200b',
];

/**
 * Ids and path parts a hostile client might send: traversal, absolute paths, NUL and control characters,
 * look-alike letters, over-long labels, reserved names, arbitrary Unicode — and some valid labels.
 */
export function hostileId(): fc.Arbitrary<string> {
  const lookAlike = validLabel().chain((label) =>
    fc.nat({ max: label.length - 1 }).map((i) => {
      const swap = LOOK_ALIKES[label[i]!];
      return swap === undefined
        ? `${label}${LOOK_ALIKES['c']}`
        : label.slice(0, i) + swap + label.slice(i + 1);
    }),
  );
  const injected = fc
    .tuple(validLabel(), fc.constantFrom(...fragments), fc.oneof(validLabel(), fc.constant('')))
    .map(([a, f, b]) => `${a}${f}${b}`);
  return fc.oneof(
    fc.constantFrom('', '.', '..', '../..', '/', '/etc', '/etc/passwd', 'tmp', '-a', 'a-', 'A', 'a.b', 'a_b'),
    fc.constantFrom('x'.repeat(64), 'a'.repeat(63), `${'a'.repeat(62)}-`, 'ckpt\0', '\0', 'ckpt\u0000../x'),
    injected,
    lookAlike,
    fc.string({ minLength: 64, maxLength: 300 }).map((s) => `a${s.replace(/[^a-z0-9-]/g, 'b')}`),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
    validLabel(),
  );
}

/** Whether `text` holds a C0 control character or DEL (what an error message must never carry raw). */
export function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
