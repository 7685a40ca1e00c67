import { createHash, randomBytes } from 'node:crypto';
import type { ParsedCommand } from './command.js';
import type { UserGroup } from './commands.js';
import type { Reply } from './print.js';
import { traps, trapSentence } from './traps.js';

export interface RouterSimUser {
  name: string;
  password: string;
  /** `full` may write, `read` may only print (default full). */
  group?: UserGroup;
}

export interface LoginOutcome {
  reply: Reply;
  /** Set when the command logged the session in. */
  user?: RouterSimUser;
  /** Set when a legacy challenge was issued (kept for the second /login). */
  challenge?: Buffer;
}

const refused: LoginOutcome = { reply: [trapSentence(traps.badLogin), ['!done']] };

/** The legacy response: `00` + md5(0x00 + password + challenge) in hex. */
export function legacyResponse(password: string, challenge: Buffer): string {
  const hash = createHash('md5');
  hash.update(Buffer.concat([Buffer.from([0]), Buffer.from(password, 'latin1'), challenge]));
  return `00${hash.digest('hex')}`;
}

/**
 * RouterOS >= 6.43 takes `/login =name= =password=` and answers a bare `!done`. Before 6.43 (the
 * simulator's legacy mode) `/login` answers `!done =ret=<challenge>` and expects
 * `/login =name= =response=`; a legacy router ignores a password, so clients see `=ret=` and fall back.
 */
export function login(
  command: ParsedCommand,
  users: readonly RouterSimUser[],
  legacy: boolean,
  challenge: Buffer | undefined,
): LoginOutcome {
  const name = command.attrs.get('name');
  const user = users.find((candidate) => candidate.name === name);
  const response = command.attrs.get('response');
  if (legacy) {
    if (response === undefined || name === undefined) {
      const fresh = randomBytes(16);
      return { reply: [['!done', `=ret=${fresh.toString('hex')}`]], challenge: fresh };
    }
    if (user === undefined || challenge === undefined || legacyResponse(user.password, challenge) !== response) return refused;
    return { reply: [['!done']], user };
  }
  const password = command.attrs.get('password');
  if (user === undefined || password === undefined || user.password !== password) return refused;
  return { reply: [['!done']], user };
}
