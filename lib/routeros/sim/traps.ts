/**
 * The traps the simulator answers with, in one place. Messages follow what RouterOS sends (see
 * the RouterOS API manual and observed v7 replies); categories follow the API manual's list (0 missing item or
 * command, 1 bad argument, 2 interrupted, 3 script, 4 general, 5 API, 6 TTY, 7 return). Where a real
 * router sends no category, `category` is left out.
 */
export interface Trap {
  message: string;
  category?: number;
}

export const traps = {
  notLoggedIn: { message: 'not logged in' },
  badLogin: { message: 'invalid user name or password (6)' },
  noSuchCommandPrefix: { message: 'no such command prefix', category: 0 },
  noSuchCommand: { message: 'no such command', category: 0 },
  noSuchItem: { message: 'no such item', category: 0 },
  invalidItemNumber: { message: 'invalid internal item number', category: 1 },
  notEnoughPermissions: { message: 'not enough permissions (9)' },
  interrupted: { message: 'interrupted', category: 2 },
  alreadyHaveAddress: { message: 'failure: already have such address' },
  alreadyHaveEntry: { message: 'failure: already have such entry' },
  cannotMoveBuiltin: { message: 'failure: cannot move builtin' },
  unknownParameter: (name: string): Trap => ({ message: `unknown parameter ${name}`, category: 1 }),
  invalidValue: (name: string): Trap => ({ message: `invalid value for argument ${name}`, category: 1 }),
  noMatchingValue: (name: string): Trap => ({ message: `input does not match any value of ${name}`, category: 1 }),
  missingArguments: (names: readonly string[]): Trap => ({
    message: `missing value(s) of argument(s) ${names.join(' ')}`,
    category: 1,
  }),
} satisfies Record<string, Trap | ((name: string) => Trap) | ((names: readonly string[]) => Trap)>;

export function trapSentence(trap: Trap): string[] {
  const words = ['!trap'];
  if (trap.category !== undefined) words.push(`=category=${trap.category}`);
  words.push(`=message=${trap.message}`);
  return words;
}
