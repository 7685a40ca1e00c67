import type { ParsedCommand } from './command.js';
import { READ_VERBS, type Verb } from './menu-types.js';
import { isKnownPrefix, MENUS } from './menus.js';
import { get, print, type Reply } from './print.js';
import type { RouterStore } from './store.js';
import { traps, trapSentence } from './traps.js';
import { add, enable, move, remove, set, unset } from './write.js';

export type UserGroup = 'full' | 'read';

const VERBS: ReadonlySet<string> = new Set<Verb>(['print', 'get', 'add', 'set', 'remove', 'move', 'unset', 'enable', 'disable']);
const isVerb = (word: string): word is Verb => VERBS.has(word);

/** Runs a menu command (everything except /login, /cancel and /quit) for a logged-in user. */
export function runMenuCommand(command: ParsedCommand, store: RouterStore, group: UserGroup): Reply {
  const slash = command.path.lastIndexOf('/');
  const menuPath = command.path.slice(0, Math.max(slash, 0));
  const verb = command.path.slice(slash + 1);
  const spec = MENUS.get(menuPath);
  if (!command.path.startsWith('/') || (spec === undefined && !isKnownPrefix(menuPath))) {
    return [trapSentence(traps.noSuchCommandPrefix), ['!done']];
  }
  if (spec === undefined || !isVerb(verb) || !spec.verbs.includes(verb)) {
    return [trapSentence(traps.noSuchCommand), ['!done']];
  }
  if (group === 'read' && !READ_VERBS.has(verb)) return [trapSentence(traps.notEnoughPermissions), ['!done']];
  if (command.stray.length > 0) return [trapSentence(traps.unknownParameter(command.stray[0] ?? '')), ['!done']];
  if (command.queries.length > 0 && verb !== 'print') {
    return [trapSentence(traps.unknownParameter(command.queries[0] ?? '')), ['!done']];
  }
  switch (verb) {
    case 'print':
      return print(spec, command, store);
    case 'get':
      return get(spec, command, store);
    case 'add':
      return add(spec, command, store);
    case 'set':
      return set(spec, command, store);
    case 'unset':
      return unset(spec, command, store);
    case 'remove':
      return remove(spec, command, store);
    case 'move':
      return move(spec, command, store);
    case 'enable':
    case 'disable':
      return enable(spec, command, store, verb === 'disable');
  }
}
