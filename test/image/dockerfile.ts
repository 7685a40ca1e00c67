import { cp, mkdir, copyFile, stat } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { cleanEnv, run } from './workspace.js';

// A small interpreter for the subset of Dockerfile syntax MikroLB's Dockerfile uses: it performs
// the COPY and RUN steps on the host (no container engine here), each stage in its own folder
// standing for the container's `/`. Anything it does not understand fails loudly, so the image
// test cannot silently drift from the Dockerfile.

export interface Instruction { keyword: string; args: string; line: number }
export interface Stage { name: string; base: string; instructions: Instruction[] }

/** Parses a Dockerfile into stages (comments dropped, continuation lines joined). */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  let startLine = 0;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (pending === '' && line.trim() === '') return;
    if (line.trimStart().startsWith('#')) return;
    if (pending === '') startLine = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/s.exec(full);
    if (!m?.[1]) return;
    const keyword = m[1].toUpperCase();
    const args = (m[2] ?? '').trim();
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from?.[1]) throw new Error(`line ${startLine}: cannot read FROM ${args}`);
      stages.push({ base: from[1], name: from[2] ?? String(stages.length), instructions: [] });
      return;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`line ${startLine}: ${keyword} before the first FROM`);
    stage.instructions.push({ keyword, args, line: startLine });
  });
  if (pending !== '') throw new Error('the Dockerfile ends inside a continuation line');
  return stages;
}

/** Leading `--name=value` flags of a RUN or COPY, and the rest. */
function flags(args: string): { flags: Map<string, string>; rest: string } {
  const found = new Map<string, string>();
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)=(\S+)\s+/.exec(rest);
    if (!m?.[1] || m[2] === undefined) return { flags: found, rest: rest.trim() };
    found.set(m[1], m[2]);
    rest = rest.slice(m[0].length);
  }
}

function jsonArray(args: string, what: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((x): x is string => typeof x === 'string')) throw new Error(`${what} must be a JSON array of strings`);
  return parsed;
}

function envPairs(ins: Instruction): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of ins.args.split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`line ${ins.line}: ENV ${ins.args}: only KEY=VALUE pairs are supported`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/**
 * How the image starts its process, read from the last stage without building it: the
 * ENTRYPOINT's node flags (between `node` and the script) and the ENV it sets. The bench runs
 * our compiled code the same way.
 */
export function runtimeProcess(stages: readonly Stage[]): { nodeFlags: string[]; env: Record<string, string> } {
  const last = stages.at(-1);
  if (!last) throw new Error('the Dockerfile has no stage');
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  for (const ins of last.instructions) {
    if (ins.keyword === 'ENV') Object.assign(env, envPairs(ins));
    if (ins.keyword === 'ENTRYPOINT') entrypoint = jsonArray(ins.args, 'ENTRYPOINT');
  }
  const [exe, ...rest] = entrypoint;
  if (exe !== 'node' || rest.length === 0) throw new Error(`the ENTRYPOINT should start node with a script, not ${JSON.stringify(entrypoint)}`);
  return { nodeFlags: rest.slice(0, -1), env };
}

/**
 * The Node.js release of the runtime stage's base: the digest pins it, and the comment beside
 * it names it as `(Node X.Y.Z` — checked against the base's tag (`node:22-…` is a 22.x).
 */
export function baseNodeVersion(text: string): string {
  const named = /\(Node (\d+)\.(\d+)\.(\d+)\b/.exec(text);
  if (!named) throw new Error('the Dockerfile does not name its base\'s Node.js release as "(Node X.Y.Z"');
  const base = parseDockerfile(text).at(-1)?.base ?? '';
  const major = /^node:(\d+)[-.@]/.exec(base)?.[1];
  if (major !== named[1]) throw new Error(`the base ${base} is not Node ${named[1]}.x, which the Dockerfile names`);
  return `${named[1]}.${named[2]}.${named[3]}`;
}

/** `.dockerignore` as a predicate over context-relative paths (no `!` exceptions). */
export function dockerignore(text: string): (path: string) => boolean {
  const patterns = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((p) => {
    if (p.startsWith('!')) throw new Error(`.dockerignore exceptions are not supported by this test: ${p}`);
    const clean = p.replace(/^\.?\//, '').replace(/\/+$/, '');
    let re = '';
    for (let i = 0; i < clean.length; i++) {
      const c = clean.charAt(i);
      if (clean.startsWith('**/', i)) {
        re += '(?:.*/)?';
        i += 2;
      } else if (clean.startsWith('**', i)) {
        re += '.*';
        i += 1;
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${re}$`);
  });
  return (path) => {
    const parts = path.split('/');
    // A pattern that matches a folder excludes everything in it.
    return parts.some((_, i) => {
      const prefix = parts.slice(0, i + 1).join('/');
      return patterns.some((re) => re.test(prefix));
    });
  };
}

export interface Context { root: string; files: readonly string[] }

export interface Step { stage: string; instruction: string; performed: string; ms: number }

export interface StageRun {
  stage: Stage;
  /** Host folder standing for the container's `/`. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  /** RUN commands performed as written (npm flags for offline speed appended). */
  ran: Step[];
  /** RUN commands not performed here, and why. */
  skipped: { command: string; why: string }[];
}

/** The host path of a container path in a stage. */
export function hostPath(stage: Pick<StageRun, 'root' | 'workdir'>, containerPath: string): string {
  return join(stage.root, posix.resolve(stage.workdir, containerPath));
}

/** Flags the test adds to `npm ci`: the runner's npm cache, no network chatter. */
export const NPM_CI_EXTRA = ['--prefer-offline', '--no-audit', '--no-fund'];

/** Commands that shape the OS image only; the test replaces them (the uid is used at run time). */
const OS_ONLY = /^(groupadd|useradd)\s/;

async function copyInto(stage: StageRun, args: string, context: Context, done: ReadonlyMap<string, StageRun>): Promise<void> {
  const { flags: f, rest } = flags(args);
  for (const k of f.keys()) if (k !== 'from') throw new Error(`COPY --${k} is not supported by this test`);
  if (rest.startsWith('[')) throw new Error('COPY in JSON form is not supported by this test');
  const words = rest.split(/\s+/);
  const dest = words.pop();
  if (dest === undefined || words.length === 0) throw new Error(`COPY ${args}: needs a source and a destination`);
  const intoDir = dest.endsWith('/') || dest === '.' || words.length > 1;
  const target = hostPath(stage, dest);
  const from = f.get('from');
  if (from !== undefined) {
    const source = done.get(from);
    if (!source) throw new Error(`COPY --from=${from}: no earlier stage of that name`);
    for (const src of words) {
      const path = hostPath(source, src);
      const info = await stat(path).catch(() => undefined);
      if (!info) throw new Error(`COPY --from=${from} ${src}: not in that stage`);
      const to = info.isFile() && intoDir ? join(target, basename(path)) : target;
      await mkdir(info.isFile() ? dirname(to) : to, { recursive: true });
      await cp(path, to, { recursive: true });
    }
    return;
  }
  for (const src of words) {
    const clean = posix.normalize(src).replace(/\/+$/, '');
    const glob = new RegExp(`^${clean.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
    const matched = clean === '.' ? [...context.files] : context.files.filter((file) => file.split('/').some((_, i, parts) => glob.test(parts.slice(0, i + 1).join('/'))));
    if (matched.length === 0) throw new Error(`COPY ${src}: nothing in the build context (check .dockerignore)`);
    for (const file of matched) {
      const top = clean === '.' ? '' : (file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/')).find((p) => glob.test(p)) ?? file);
      const to = top === file ? (intoDir ? join(target, basename(file)) : target) : join(target, posix.relative(top, file));
      await mkdir(dirname(to), { recursive: true });
      await copyFile(join(context.root, file), to);
    }
  }
}

async function runInto(stage: StageRun, args: string, log: (line: string) => void): Promise<void> {
  const { flags: f, rest } = flags(args);
  for (const [k, v] of f) {
    if (k !== 'mount' || !v.startsWith('type=cache,')) throw new Error(`RUN --${k}=${v} is not supported by this test`);
  }
  if (/[;|`$<>]|\|\|/.test(rest)) throw new Error(`RUN ${rest}: only commands joined by && are supported by this test`);
  for (const command of rest.split('&&').map((c) => c.trim())) {
    if (OS_ONLY.test(command)) {
      stage.skipped.push({ command, why: 'creates the OS user; the test runs the process under that uid instead' });
      continue;
    }
    const words = command.split(/\s+/);
    const isCi = words[0] === 'npm' && words[1] === 'ci';
    const isRun = words[0] === 'npm' && words[1] === 'run';
    if (!isCi && !isRun) throw new Error(`RUN ${command}: not a command this test knows how to perform`);
    const args = [...words.slice(1), ...(isCi ? NPM_CI_EXTRA.filter((x) => !words.includes(x)) : [])];
    const cwd = hostPath(stage, '.');
    const ran = await run('npm', args, { cwd, env: cleanEnv(stage.env) });
    stage.ran.push({ stage: stage.stage.name, instruction: command, performed: ran.command, ms: ran.ms });
    log(`[image] ${stage.stage.name}: RUN ${command} (as \`${ran.command}\`) took ${(ran.ms / 1000).toFixed(1)} s`);
  }
}

/** Performs every stage of the Dockerfile in folders under `workRoot`; returns them by name. */
export async function performDockerfile(stages: readonly Stage[], context: Context, workRoot: string, log: (line: string) => void): Promise<Map<string, StageRun>> {
  const done = new Map<string, StageRun>();
  for (const stage of stages) {
    const s: StageRun = { stage, root: join(workRoot, stage.name), workdir: '/', env: {}, user: undefined, entrypoint: undefined, cmd: undefined, ran: [], skipped: [] };
    await mkdir(s.root, { recursive: true });
    for (const ins of stage.instructions) {
      switch (ins.keyword) {
        case 'WORKDIR':
          s.workdir = posix.resolve(s.workdir, ins.args);
          await mkdir(hostPath(s, '.'), { recursive: true });
          break;
        case 'ENV':
          Object.assign(s.env, envPairs(ins));
          break;
        case 'COPY': {
          await copyInto(s, ins.args, context, done);
          break;
        }
        case 'RUN':
          await runInto(s, ins.args, log);
          break;
        case 'USER':
          s.user = ins.args;
          break;
        case 'ENTRYPOINT':
          s.entrypoint = jsonArray(ins.args, 'ENTRYPOINT');
          break;
        case 'CMD':
          s.cmd = jsonArray(ins.args, 'CMD');
          break;
        case 'EXPOSE':
        case 'LABEL':
          break;
        default:
          throw new Error(`line ${ins.line}: ${ins.keyword} is not supported by this test`);
      }
    }
    done.set(stage.name, s);
  }
  return done;
}
