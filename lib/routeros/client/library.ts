import { createRequire } from 'node:module';
import { Channel } from 'node-routeros/dist/Channel.js';
import { Connector } from 'node-routeros/dist/connector/Connector.js';
import { RosException } from 'node-routeros/dist/RosException.js';
import { RouterOSAPI } from 'node-routeros/dist/RouterOSAPI.js';

/**
 * The parts of node-routeros the client uses (TCP/TLS connect and login), each from its own
 * module. Its package entry (`dist/index.js`, like routeros-client's) requires
 * `source-map-support`, which is not installed, whenever `ENV=testing` is set, so it would crash
 * every command of a process with that variable; these modules never read `ENV`.
 */
export { Channel, Connector, RosException, RouterOSAPI };

/** The `debug` namespaces node-routeros writes to, the login's `=password=` word among them. */
export const LIBRARY_DEBUG_NAMESPACES = 'routeros-api:*';

interface DebugControl {
  enable(namespaces: string): void;
}

const isDebugControl = (value: unknown): value is DebugControl =>
  typeof value === 'function' && typeof Reflect.get(value, 'enable') === 'function';

/**
 * `DEBUG=*` (or `DEBUG=routeros-api:*`) would make node-routeros print every word it sends, the
 * password of the login among them. This turns its namespaces off in the copy of `debug` it
 * loads, keeping whatever else `DEBUG` enables (and writes that back to `DEBUG`, as `debug` does);
 * it applies to instances made before and after. Idempotent.
 */
export function silenceLibraryDebug(): void {
  const requireFromLibrary = createRequire(createRequire(import.meta.url).resolve('node-routeros/dist/RouterOSAPI.js'));
  const debug: unknown = requireFromLibrary('debug');
  if (!isDebugControl(debug)) throw new Error('node-routeros: its debug module has no enable(); its output cannot be silenced');
  // What `debug` itself read when it loaded (and writes back on enable).
  const namespaces = (process.env.DEBUG ?? '').trim();
  // Nothing enabled (DEBUG unset), or already silenced: nothing to do.
  if (namespaces === '' || namespaces.split(/[\s,]+/).includes(`-${LIBRARY_DEBUG_NAMESPACES}`)) return;
  debug.enable(`${namespaces},-${LIBRARY_DEBUG_NAMESPACES}`);
}

silenceLibraryDebug();
