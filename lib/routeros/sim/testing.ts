import { connectRawClient, type RawClient, type RawClientOptions } from './raw-client.js';
import { startRouterSim, type RouterSim, type RouterSimOptions } from './server.js';

/** A simulator with one logged-in raw client, for tests. */
export interface SimFixture {
  sim: RouterSim;
  client: RawClient;
  /** Opens another connection (not logged in). */
  connect(tls?: RawClientOptions['tls']): Promise<RawClient>;
  stop(): Promise<void>;
}

export async function startLoggedIn(options: RouterSimOptions = {}): Promise<SimFixture> {
  const sim = await startRouterSim(options);
  const clients: RawClient[] = [];
  const connect = async (tls?: RawClientOptions['tls']): Promise<RawClient> => {
    const client = await connectRawClient(tls === undefined ? { port: sim.port } : { port: sim.port, tls });
    clients.push(client);
    return client;
  };
  const client = await connect(options.tls === undefined ? undefined : { rejectUnauthorized: false });
  const user = options.users?.[0] ?? { name: 'admin', password: '' };
  if (!options.legacyLogin) {
    const reply = await client.login(user.name, user.password);
    if (reply.trap !== null) throw new Error(`login failed: ${reply.trap.message}`);
  }
  return {
    sim,
    client,
    connect,
    stop: async () => {
      for (const open of clients) open.close();
      await sim.close();
    },
  };
}
