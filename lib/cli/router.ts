import type { RouterPort } from '../router/port.js';
import { connectRouter } from '../routeros/client/index.js';
import { startRouterSim } from '../routeros/sim/index.js';
import type { RouterState } from '../router/state.js';

/** One API sentence as it went over the wire, e.g. `['/ip/address/add', '=address=192.0.2.1/32']`. */
export type RouterCommand = readonly string[];

/**
 * The router a `mikrolb invoke --router router.json` run works against: the RouterOS simulator
 * seeded with the file, reached through the real client adapter over loopback, so the output
 * shows the very sentences a real router would have received.
 */
export interface InvokeRouter {
  readonly initial: RouterState;
  /** What the functions talk to. */
  readonly port: RouterPort;
  /** Sentences sent during the run (after login), in order. */
  commands(): RouterCommand[];
  /** The router after the run, in the `--router` format. */
  state(): RouterState;
  close(): Promise<void>;
}

const USER = 'mikrolb-invoke';

export async function simulatedRouter(initial: RouterState): Promise<InvokeRouter> {
  const password = `invoke-${process.pid}`;
  const sim = await startRouterSim({ initialState: initial, users: [{ name: USER, password }], recordCommands: true });
  const client = connectRouter({ url: sim.url, username: USER, password, timeoutMs: 5000 });
  return {
    initial,
    port: client,
    commands: () => sim.commandLog().filter((words) => words[0] !== '/login'),
    state: () => sim.state(),
    close: async () => {
      await client.close();
      await sim.close();
    },
  };
}
