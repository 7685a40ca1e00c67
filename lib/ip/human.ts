/**
 * Address counts for people (IPPool status `totalAddresses`, `allocatedAddresses`,
 * `freeAddresses`, and the printer columns built on them).
 */

const SUFFIXES = ['K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y', 'R', 'Q'] as const;

/**
 * The rule, decimal (SI) and truncating:
 * - a count below 1000 is printed exactly: `0`, `254`, `999`;
 * - otherwise the count is divided by the largest power of 1000 that is not above it (up to
 *   1000^10), the quotient is truncated (rounded down, never up), and the power's SI suffix is
 *   appended: 1000^1 `K`, ^2 `M`, ^3 `G`, ^4 `T`, ^5 `P`, ^6 `E`, ^7 `Z`, ^8 `Y`, ^9 `R`, ^10 `Q`.
 * So 1,000 → `1K`, 65,534 (a /16 without two addresses) → `65K`, 2^64 (an IPv6 /64) → `18E`,
 * and 2^128 → `340282366Q`. Truncation means a printed free count is never more than what is
 * really free.
 */
export function humanCount(n: bigint): string {
  if (n < 0n) throw new RangeError(`negative count ${n}`);
  let unit = 1n;
  let suffix = '';
  for (const next of SUFFIXES) {
    if (n < unit * 1000n) break;
    unit *= 1000n;
    suffix = next;
  }
  return `${n / unit}${suffix}`;
}
