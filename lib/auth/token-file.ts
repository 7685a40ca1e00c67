import { readFile, stat } from 'node:fs/promises';

/** The current bearer token, or undefined when there is none to send. */
export type TokenSource = () => Promise<string | undefined>;

export interface TokenFileOptions {
  /** Milliseconds clock. */
  now?: () => number;
  /** Read the file again after this long even if it looks unchanged. */
  maxAgeMs?: number;
}

const DEFAULT_MAX_AGE_MS = 60_000;

/**
 * A projected ServiceAccount token read from `path`. The kubelet rotates it by swapping the
 * file; each call checks the file's modification time and size (one stat) and reads it again
 * when they changed, and at least every `maxAgeMs` regardless, so a rotated token is sent from
 * the next invocation on and none is kept forever. A missing file means no token (undefined).
 */
export function tokenFile(path: string, opts: TokenFileOptions = {}): TokenSource {
  const now = opts.now ?? Date.now;
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  let current: { stamp: string; token: string | undefined; readAt: number } | undefined;
  return async () => {
    let stamp: string;
    try {
      const s = await stat(path);
      stamp = `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch (err) {
      if (isMissing(err)) {
        current = undefined;
        return undefined;
      }
      throw err;
    }
    if (current && current.stamp === stamp && now() - current.readAt < maxAgeMs) return current.token;
    const token = (await readFile(path, 'utf8')).trim();
    current = { stamp, token: token === '' ? undefined : token, readAt: now() };
    return current.token;
  };
}

const isMissing = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'code' in err && (err.code === 'ENOENT' || err.code === 'ENOTDIR');
