import { parseArgs } from 'node:util';
import type { CliOptions } from './io.js';
import { ObjectRefSchema, type ObjectKind, type ObjectRef } from '../events/invocation.js';
import { RESOURCES } from '../k8s/resources.js';
import { messageOf } from '../errors.js';


/**
 * `mikrolb invoke --help`. `environment`: the variables it reads, each with its value when unset
 * (CLASS_VARIABLES of lib/config.ts, passed in so this module, loaded with every `mikrolb`
 * command for its flags, stays free of the configuration parsers).
 */
export const invokeUsage = (environment: Readonly<Record<string, string>>): string => `usage: mikrolb invoke <allocate|program|release> --state <file.yaml|dir>
                      (--object Kind/name | --object Kind/namespace/name | --event event.json)
                      [--router router.json] [--quiet]

Runs one function once against an in-memory API server seeded with --state, and prints one
JSON document: function, response, writes, events, objects (and router with --router).

  --state   Kubernetes objects in YAML as \`kubectl get -o yaml\` shows them: one file
            (multi-document or a List) or a folder of *.yaml/*.yml/*.json files (a
            router's state among them is left out, for --router); an earlier run's
            output counts as a List of its objects (runs chain); kinds
            IPPool, IPAllocation, IPAddressClaim, Service, EndpointSlice and Namespace
            (its labels, for pools scoped by namespaceSelectors). A field of the wrong
            type, or a folder holding only a router's state, is an input error
  --object  the object the function is woken for: IPPool/name, IPAllocation/name,
            IPAddressClaim/name, Namespace/name, Service/name (namespace default),
            Service/namespace/name, EndpointSlice/ns/name (kinds also as kubectl spells
            them: svc, ipp, ipa, ipc, ns, services, ...); one the state does not hold
            is run as gone, and a note on stderr says so
  --event   a CloudEvent as the function receives it: a structured-mode JSON object
            ({"specversion": "1.0", "type": ..., "source": ..., "id": ..., "data": ...}) or
            a binary-mode request {"headers": {"ce-type": ..., ...}, "body": <string or JSON>}
  --router  a router's state {"version": "7.19.1", "menus": {"/ip/address": [...]}}, values as
            strings; the output adds router.commands and router.state (allocate never talks
            to the router: no commands, state unchanged); an earlier run's output gives
            its router.state
  --quiet   no log lines on stderr

Environment (each with its value when unset):
${environmentLines(environment)}
Exit status: 0 the function answered 2xx, 1 it answered otherwise, 2 usage or input error.
`;

function environmentLines(environment: Readonly<Record<string, string>>): string {
  const width = Math.max(0, ...Object.keys(environment).map((name) => name.length)) + 2;
  return Object.entries(environment).map(([name, value]) => `  ${name.padEnd(width)}${value}`).join('\n');
}

export type InvokeTarget = { object: ObjectRef } | { eventFile: string };

export interface InvokeArgs {
  function: string;
  stateFile: string;
  target: InvokeTarget;
  routerFile?: string;
  quiet: boolean;
}

export type ParsedInvokeArgs = { ok: true; help: true } | { ok: true; help?: false; args: InvokeArgs } | { ok: false; message: string };

type Fail = { ok: false; message: string };
const fail = (message: string): Fail => ({ ok: false, message });

/** Kind spellings kubectl accepts (kind, singular, plural, short name), case-insensitive. */
const KIND_ALIASES: Readonly<Record<string, ObjectKind>> = {
  ippool: 'IPPool', ippools: 'IPPool', ipp: 'IPPool',
  ipallocation: 'IPAllocation', ipallocations: 'IPAllocation', ipa: 'IPAllocation',
  service: 'Service', services: 'Service', svc: 'Service',
  endpointslice: 'EndpointSlice', endpointslices: 'EndpointSlice',
  ipaddressclaim: 'IPAddressClaim', ipaddressclaims: 'IPAddressClaim', ipc: 'IPAddressClaim',
  namespace: 'Namespace', namespaces: 'Namespace', ns: 'Namespace',
};

/** `Kind/name` or `Kind/namespace/name`; a namespaced kind without a namespace is in `default`. */
export function parseObjectArg(text: string): { ok: true; ref: ObjectRef } | Fail {
  const parts = text.split('/');
  const [kindText = '', ...rest] = parts;
  const kind = KIND_ALIASES[kindText.toLowerCase()];
  if (kind === undefined) return fail(`--object ${text}: unknown kind "${kindText}"; expected IPPool, IPAllocation, IPAddressClaim, Service, EndpointSlice or Namespace`);
  if (rest.length < 1 || rest.length > 2 || rest.some((p) => p === '')) {
    return fail(`--object ${text}: expected Kind/name or Kind/namespace/name`);
  }
  const namespaced = RESOURCES[kind].namespaced;
  if (rest.length === 2 && !namespaced) return fail(`--object ${text}: ${kind} is cluster-scoped; use ${kind}/name`);
  const [first = '', second] = rest;
  const candidate = second === undefined
    ? { kind, name: first, ...(namespaced ? { namespace: 'default' } : {}) }
    : { kind, namespace: first, name: second };
  const ref = ObjectRefSchema.safeParse(candidate);
  if (!ref.success) return fail(`--object ${text}: ${ref.error.issues[0]?.path.join('.') ?? ''} ${ref.error.issues[0]?.message ?? 'is invalid'}`);
  return { ok: true, ref: ref.data };
}

/** The flags `mikrolb invoke` accepts. */
export const INVOKE_OPTIONS = {
  state: { type: 'string', multiple: true },
  object: { type: 'string', multiple: true },
  event: { type: 'string', multiple: true },
  router: { type: 'string', multiple: true },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies CliOptions;

function readFlags(argv: string[]) {
  return parseArgs({ args: argv, strict: true, allowPositionals: true, options: INVOKE_OPTIONS });
}

const SINGLE_FLAGS = ['state', 'object', 'event', 'router'] as const;
type SingleFlag = (typeof SINGLE_FLAGS)[number];

/** Each flag at most once and never empty (parseArgs collects repeats so they can be refused). */
function singles(values: Partial<Record<SingleFlag, string[]>>): { ok: true; values: Partial<Record<SingleFlag, string>> } | Fail {
  const out: Partial<Record<SingleFlag, string>> = {};
  for (const flag of SINGLE_FLAGS) {
    const given = values[flag] ?? [];
    if (given.length > 1) return fail(`--${flag} is given ${given.length} times; give it once`);
    const [value] = given;
    if (value === '') return fail(`--${flag} needs a value`);
    if (value !== undefined) out[flag] = value;
  }
  return { ok: true, values: out };
}

function targetOf(object: string | undefined, event: string | undefined): { ok: true; target: InvokeTarget } | Fail {
  if (object !== undefined && event === undefined) {
    const ref = parseObjectArg(object);
    return ref.ok ? { ok: true, target: { object: ref.ref } } : ref;
  }
  if (event !== undefined && object === undefined) return { ok: true, target: { eventFile: event } };
  return fail('give exactly one of --object Kind/[namespace/]name or --event event.json');
}

/** The command line after `mikrolb invoke`, checked; files are read later. */
export function parseInvokeArgs(argv: string[]): ParsedInvokeArgs {
  let flags: ReturnType<typeof readFlags>;
  try {
    flags = readFlags(argv);
  } catch (e) {
    // node goes on with a hint on positionals that start with '-' (none of ours do)
    return fail(messageOf(e).replace(/\. To specify a positional argument starting with a '-'.*$/s, ''));
  }
  const { values, positionals } = flags;
  if (values.help) return { ok: true, help: true };
  const [fn, ...extra] = positionals;
  if (fn === undefined) return fail('name the function to invoke: allocate, program or release');
  if (extra.length > 0) return fail(`unexpected argument "${extra[0]}"`);
  const picked = singles(values);
  if (!picked.ok) return picked;
  const { state, object, event, router } = picked.values;
  if (state === undefined) return fail('--state <file.yaml|dir> is required');
  const target = targetOf(object, event);
  if (!target.ok) return target;
  return {
    ok: true,
    args: { function: fn, stateFile: state, target: target.target, ...(router !== undefined ? { routerFile: router } : {}), quiet: values.quiet ?? false },
  };
}
