import { z } from 'zod';
import { parseAddress } from './addresses.js';
import type { Flow } from './flow.js';
import { parseProtocol, protocolHasPorts, type Parsed } from './values.js';

const PortSchema = z.number().int().min(0).max(65535);

/** A synthetic NEW connection to trace, as a test or CLI caller describes it. */
export const ConnectionSchema = z.strictObject({
  srcAddress: z.string(),
  srcPort: PortSchema.optional(),
  dstAddress: z.string(),
  dstPort: PortSchema.optional(),
  /** A RouterOS protocol name (`tcp`, `udp`, `icmp`, `icmpv6`, ...) or number. */
  protocol: z.union([z.string(), z.number().int().min(0).max(255)]).default('tcp'),
  inInterface: z.string().min(1).optional(),
  /** Overrides the out-interface the tracer would derive from connected networks and routes. */
  outInterface: z.string().min(1).optional(),
  /** `network`: arrives on an interface (prerouting); `router`: opened by the router itself (output). */
  origin: z.enum(['network', 'router']).default('network'),
});
export type Connection = z.input<typeof ConnectionSchema>;
export type ParsedConnection = z.output<typeof ConnectionSchema>;

/** Validates a connection and turns it into the flow the chains evaluate. */
export function parseConnection(input: unknown): Parsed<{ connection: ParsedConnection; flow: Flow }> {
  const parsed = ConnectionSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, message: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'connection'}: ${issue.message}`).join('; ') };
  }
  const connection = parsed.data;
  const src = parseAddress(connection.srcAddress);
  const dst = parseAddress(connection.dstAddress);
  if (!src) return { ok: false, message: `srcAddress '${connection.srcAddress}' is not an IP address` };
  if (!dst) return { ok: false, message: `dstAddress '${connection.dstAddress}' is not an IP address` };
  if (src.family !== dst.family) return { ok: false, message: `srcAddress is ${src.family} but dstAddress is ${dst.family}` };
  if (connection.origin === 'router' && connection.inInterface !== undefined) {
    return { ok: false, message: 'a connection the router opens itself has no inInterface' };
  }
  const protocol = parseProtocol(String(connection.protocol));
  if (!protocol.ok) return protocol;
  const hasPorts = connection.srcPort !== undefined && connection.dstPort !== undefined;
  const noPorts = connection.srcPort === undefined && connection.dstPort === undefined;
  if (protocolHasPorts(protocol.value) ? !hasPorts : !noPorts) {
    const need = protocolHasPorts(protocol.value) ? 'needs' : 'has no';
    return { ok: false, message: `protocol ${connection.protocol} ${need} srcPort and dstPort` };
  }
  const flow: Flow = {
    family: src.family,
    protocol: protocol.value,
    hook: connection.origin === 'router' ? 'output' : 'prerouting',
    src: src.value,
    srcPort: connection.srcPort,
    dst: dst.value,
    dstPort: connection.dstPort,
    inInterface: connection.inInterface,
    outInterface: undefined,
    connectionMark: undefined,
    packetMark: undefined,
    routingMark: undefined,
    natState: { dstnat: false, srcnat: false },
  };
  return { ok: true, value: { connection, flow } };
}
