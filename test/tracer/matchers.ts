import { parseSpan, spanContains, type Family } from './addresses.js';
import { classify } from './classifier.js';
import type { Flow, MatchFn } from './flow.js';
import {
  fail,
  ok,
  parseClassifier,
  parsePortList,
  parseProtocol,
  portInRanges,
  splitNegation,
  type Parsed,
} from './values.js';

export interface CompileContext {
  family: Family;
  /** Why an address list cannot be evaluated (e.g. an entry holding a DNS name), if it cannot. */
  listProblem(list: string): string | undefined;
}

type MatcherCompiler = (body: string, ctx: CompileContext) => Parsed<MatchFn>;

function addressMatcher(pick: (flow: Flow) => bigint): MatcherCompiler {
  return (body, ctx) => {
    const span = parseSpan(body);
    if (!span) return fail(`'${body}' is not an address, CIDR or range`);
    if (span.family !== ctx.family) return fail(`'${body}' is not an ${ctx.family} address`);
    return ok((flow) => spanContains(span, flow.family, pick(flow)));
  };
}

function portMatcher(picks: ((flow: Flow) => number | undefined)[]): MatcherCompiler {
  return (body) => {
    const ranges = parsePortList(body);
    if (!ranges.ok) return ranges;
    return ok((flow) =>
      picks.some((pick) => {
        const port = pick(flow);
        return port !== undefined && portInRanges(port, ranges.value);
      }),
    );
  };
}

function addressListMatcher(pick: (flow: Flow) => bigint): MatcherCompiler {
  return (list, ctx) => {
    const problem = ctx.listProblem(list);
    if (problem) return fail(problem);
    return ok((flow, env) => env.inAddressList(list, flow.family, pick(flow)));
  };
}

function interfaceMatcher(pick: (flow: Flow) => string | undefined): MatcherCompiler {
  return (name) => ok((flow) => pick(flow) === name);
}

function interfaceListMatcher(pick: (flow: Flow) => string | undefined): MatcherCompiler {
  return (list) =>
    ok((flow, env) => {
      const name = pick(flow);
      return name !== undefined && env.interfaceInList(list, name);
    });
}

/** `no-mark` matches a connection or packet that carries no mark. */
function markMatcher(pick: (flow: Flow) => string | undefined): MatcherCompiler {
  return (mark) => ok((flow) => (pick(flow) ?? 'no-mark') === mark);
}

function flagListMatcher(known: readonly string[], present: (flow: Flow) => readonly string[]): MatcherCompiler {
  return (body) => {
    const values = body.split(',');
    const unknown = values.find((value) => !known.includes(value));
    if (unknown !== undefined) return fail(`'${unknown}' is not one of ${known.join(', ')}`);
    return ok((flow) => values.some((value) => present(flow).includes(value)));
  };
}

const compileProtocol: MatcherCompiler = (body) => {
  const protocol = parseProtocol(body);
  return protocol.ok ? ok((flow) => flow.protocol === protocol.value) : protocol;
};

const compileClassifier: MatcherCompiler = (body) => {
  const classifier = parseClassifier(body);
  return classifier.ok ? ok((flow) => classify(flow, classifier.value)) : classifier;
};

function addressTypeMatcher(pick: (flow: Flow) => bigint): MatcherCompiler {
  return (body) =>
    body === 'local'
      ? ok((flow, env) => env.isLocalAddress(flow.family, pick(flow)))
      : fail(`address type '${body}' is not supported by the tracer (only 'local')`);
}

/** Traced connections are always the first packet of a NEW connection. */
const CONNECTION_STATES = ['established', 'related', 'new', 'invalid', 'untracked'] as const;

const src = (flow: Flow): bigint => flow.src;
const dst = (flow: Flow): bigint => flow.dst;

const MATCHERS: Record<string, MatcherCompiler> = {
  protocol: compileProtocol,
  'src-address': addressMatcher(src),
  'dst-address': addressMatcher(dst),
  'src-port': portMatcher([(flow) => flow.srcPort]),
  'dst-port': portMatcher([(flow) => flow.dstPort]),
  port: portMatcher([(flow) => flow.srcPort, (flow) => flow.dstPort]),
  'src-address-list': addressListMatcher(src),
  'dst-address-list': addressListMatcher(dst),
  'src-address-type': addressTypeMatcher(src),
  'dst-address-type': addressTypeMatcher(dst),
  'in-interface': interfaceMatcher((flow) => flow.inInterface),
  'out-interface': interfaceMatcher((flow) => flow.outInterface),
  'in-interface-list': interfaceListMatcher((flow) => flow.inInterface),
  'out-interface-list': interfaceListMatcher((flow) => flow.outInterface),
  'connection-mark': markMatcher((flow) => flow.connectionMark),
  'packet-mark': markMatcher((flow) => flow.packetMark),
  'routing-mark': markMatcher((flow) => flow.routingMark),
  'connection-state': flagListMatcher(CONNECTION_STATES, () => ['new']),
  'connection-nat-state': flagListMatcher(['srcnat', 'dstnat'], (flow) =>
    (['srcnat', 'dstnat'] as const).filter((state) => flow.natState[state]),
  ),
  'per-connection-classifier': compileClassifier,
};

/** Compiles one matcher property (with RouterOS' `!` negation) into a predicate. */
export function compileMatcher(property: string, value: string, ctx: CompileContext): Parsed<MatchFn> {
  const compiler = MATCHERS[property];
  if (!compiler) return fail(`'${property}' is not a matcher the tracer can evaluate`);
  const { negated, body } = splitNegation(value);
  const compiled = compiler(body, ctx);
  if (!compiled.ok || !negated) return compiled;
  const match = compiled.value;
  return ok((flow, env) => !match(flow, env));
}
