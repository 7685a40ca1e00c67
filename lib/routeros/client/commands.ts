import type { Op } from '../../router/ops.js';
import { RouterError } from '../../router/errors.js';

/**
 * Command words for the adapter's verbs, validated before anything is sent. Writes always name
 * their items by `.id` (never a `where` query), and an empty id list sends nothing: a
 * `set`/`remove` without ids is the where-then-write bug of routeros-client.
 */

export interface PrintOptions {
  /** Raw query words, each starting with `?` (e.g. `?comment=mikrolb:x`, `?#|`). */
  query?: readonly string[];
  /** Only these properties (`=.proplist=`). */
  proplist?: readonly string[];
}

const MENU = /^(\/[a-z0-9][a-z0-9-]*)+$/;
const ID = /^\*[0-9A-F]+$/i;
const PROPERTY = /^[a-z0-9][a-z0-9-]*$/;
const PROPLIST_NAME = /^\.?[a-z0-9][a-z0-9-]*$/;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

const refuse = (command: string, message: string): RouterError =>
  new RouterError({ kind: 'input', message: `${command}: ${message}`, command });

function checkMenu(menu: string, verb: string): string {
  const command = `${menu}/${verb}`;
  if (!MENU.test(menu)) throw refuse(command, `menu must look like /ip/firewall/nat, got ${JSON.stringify(menu)}`);
  return command;
}

/**
 * RouterOS API words are windows-1252 on the router and latin1 on this codec; only ASCII means
 * the same on both sides, so anything else is refused here with the property it appeared in.
 */
function checkAscii(command: string, what: string, value: string): void {
  if (NON_ASCII.test(value)) {
    throw refuse(command, `${what} ${JSON.stringify(value)} holds non-ASCII characters; RouterOS API words are windows-1252, so only ASCII is sent`);
  }
}

function propertyWords(command: string, props: Readonly<Record<string, string>>): string[] {
  return Object.entries(props).map(([name, value]) => {
    if (!PROPERTY.test(name)) throw refuse(command, `property name ${JSON.stringify(name)} is not a plain RouterOS property`);
    checkAscii(command, name, value);
    return `=${name}=${value}`;
  });
}

function checkIds(command: string, ids: readonly string[], what = 'id'): string {
  for (const id of ids) {
    if (!ID.test(id)) throw refuse(command, `${what} must look like *1A, got ${JSON.stringify(id)}`);
  }
  return ids.join(',');
}

export function printWords(menu: string, options: PrintOptions = {}): string[] {
  const command = checkMenu(menu, 'print');
  const words = [command];
  if (options.proplist !== undefined) {
    for (const name of options.proplist) {
      if (!PROPLIST_NAME.test(name)) throw refuse(command, `proplist name ${JSON.stringify(name)} is not a property name`);
    }
    words.push(`=.proplist=${options.proplist.join(',')}`);
  }
  for (const word of options.query ?? []) {
    if (!word.startsWith('?')) throw refuse(command, `query words start with ?, got ${JSON.stringify(word)}`);
    checkAscii(command, 'query word', word);
    words.push(word);
  }
  return words;
}

export function addWords(menu: string, props: Readonly<Record<string, string>>, placeBefore?: string): string[] {
  const command = checkMenu(menu, 'add');
  const words = [command, ...propertyWords(command, props)];
  if (placeBefore !== undefined) words.push(`=place-before=${checkIds(command, [placeBefore], 'place-before')}`);
  return words;
}

export function setWords(menu: string, id: string, props: Readonly<Record<string, string>>): string[] {
  const command = checkMenu(menu, 'set');
  return [command, `=.id=${checkIds(command, [id])}`, ...propertyWords(command, props)];
}

/** `null` when there is nothing to remove. */
export function removeWords(menu: string, ids: readonly string[]): string[] | null {
  const command = checkMenu(menu, 'remove');
  const list = checkIds(command, ids);
  return ids.length === 0 ? null : [command, `=.id=${list}`];
}

/** `null` when there is nothing to move. */
export function moveWords(menu: string, ids: readonly string[], destination?: string): string[] | null {
  const command = checkMenu(menu, 'move');
  const words = [command, `=numbers=${checkIds(command, ids)}`];
  if (destination !== undefined) words.push(`=destination=${checkIds(command, [destination], 'destination')}`);
  return ids.length === 0 ? null : words;
}

/** A planner op as command words (`null` for an op that has nothing to do). */
export function opWords(op: Op): string[] | null {
  switch (op.op) {
    case 'add':
      return addWords(op.menu, op.entry, op.placeBefore);
    case 'set':
      return setWords(op.menu, op.id, op.changes);
    case 'remove':
      return removeWords(op.menu, op.ids);
    case 'move':
      return moveWords(op.menu, op.ids, op.destination);
  }
}

/**
 * `add /ip/address 192.0.2.10/32`, `set /ip/firewall/nat *5`, for messages. An add names the
 * address it writes, when it writes one: every allocation of a Service carries the message of
 * the Service's failed write, and the address says which of them (which pool) was refused.
 */
export function describeOp(op: Op): string {
  switch (op.op) {
    case 'add':
      return op.entry.address === undefined ? `add ${op.menu}` : `add ${op.menu} ${op.entry.address}`;
    case 'set':
      return `set ${op.menu} ${op.id}`;
    default:
      return `${op.op} ${op.menu} ${op.ids.join(',')}`;
  }
}
