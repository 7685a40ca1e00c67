import { Socket } from 'node:net';
import { Channel, Connector } from './library.js';

const PATCHED = Symbol.for('mikrolb.routeros-client.ignore-empty');

/**
 * RouterOS 7.18+ answers a print that finds nothing with `!empty` then `!done`. node-routeros
 * (also as re-exported by routeros-client: the same modules) treats `!empty` as an unknown reply and throws from inside the
 * socket's data handler, which crashes the process. This wraps `Channel.prototype.processPacket`
 * of that copy so `!empty` is ignored and the channel settles on the `!done` that follows (with
 * no items).
 *
 * `processPacket` is private and untyped in the package's declarations, so it is reached through
 * `Reflect` and checked to be a function; nothing is cast. Idempotent: the prototype is marked.
 */
export function neutraliseEmptyReplies(): void {
  const prototype: object = Channel.prototype;
  if (Reflect.get(prototype, PATCHED) === true) return;
  const original: unknown = Reflect.get(prototype, 'processPacket');
  if (typeof original !== 'function') {
    throw new Error('routeros-client: Channel.prototype.processPacket is missing; the !empty workaround cannot be installed');
  }
  const processPacket = function (this: unknown, packet: unknown): unknown {
    if (Array.isArray(packet) && packet[0] === '!empty') return undefined;
    return Reflect.apply(original, this, [packet]);
  };
  Reflect.set(prototype, 'processPacket', processPacket);
  Reflect.set(prototype, PATCHED, true);
}

const GUARDED = Symbol.for('mikrolb.routeros-client.guard-reply-parser');

/**
 * node-routeros's reply parser also throws from the socket's data handler on a login reply it
 * cannot place (an unknown reply word, a reply for a tag it never registered), which crashes
 * the process. This wraps `Connector.prototype.onData` (bound per connection when it connects,
 * so the bound name stays `bound onData` for `detach`) so such a throw destroys that one
 * connection with the error instead: the login then fails as a RouterError.
 */
export function guardReplyParser(): void {
  const prototype: object = Connector.prototype;
  if (Reflect.get(prototype, GUARDED) === true) return;
  const original: unknown = Reflect.get(prototype, 'onData');
  if (typeof original !== 'function') {
    throw new Error('routeros-client: Connector.prototype.onData is missing; the reply parser guard cannot be installed');
  }
  const onData = function (this: unknown, data: unknown): unknown {
    try {
      return Reflect.apply(original, this, [data]);
    } catch (error) {
      const socket: unknown = typeof this === 'object' && this !== null ? Reflect.get(this, 'socket') : undefined;
      if (socket instanceof Socket) socket.destroy(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
  };
  Reflect.set(prototype, 'onData', onData);
  Reflect.set(prototype, GUARDED, true);
}
