import type { Trap } from './traps.js';

/** How often an injected command fault fires: a number of times, or until cleared. */
export type FaultTimes = number | 'always';
/** Which commands a fault applies to: the exact command word, or a pattern. */
export type CommandMatcher = string | RegExp;

export interface TrapFault extends Trap {
  times?: FaultTimes;
}

/** Faults a test switches on and off while the simulator runs. */
export interface RouterSimFaults {
  /** Accept and immediately close new connections (`reset` sends a TCP RST); `false` stops refusing. */
  refuseConnections(mode?: 'close' | 'reset' | false): void;
  /** After `count` more reply sentences, cut the connection that is writing (optionally mid-sentence). */
  dropAfterSentences(count: number, options?: { partial?: boolean }): void;
  /** Answer each command `ms` after it arrived (0 turns the delay off); order is kept. */
  delayReplies(ms: number): void;
  /** Answer matching commands with a trap (then `!done`) instead of running them. */
  trapCommand(command: CommandMatcher, trap: TrapFault): void;
  /** Never answer matching commands (until `/cancel` or the connection closes). */
  hangCommand(command: CommandMatcher, options?: { times?: FaultTimes }): void;
  /** Answer matching commands with `!re` sentences of about 100 bytes, endlessly (until `/cancel` or the connection closes). */
  floodReplies(command: CommandMatcher, options?: { times?: FaultTimes }): void;
  /** Answer matching commands with one `!re` of `words` words of `wordBytes` bytes each, then `!done`. */
  hugeReply(command: CommandMatcher, size: { wordBytes: number; words?: number; times?: FaultTimes }): void;
  /** Write every reply one byte every `intervalMs` (0 turns dripping off): never silent, never done. */
  dripReplies(intervalMs: number): void;
  /** Answer the next command on any connection with `!fatal <reason>` and close that connection. */
  fatalOnNextCommand(reason?: string): void;
  /** Stop listening and destroy every connection; the state is kept. */
  goAway(): Promise<void>;
  /** Listen again on the same host and port. */
  comeBack(): Promise<void>;
  /** Switch every fault off (the listener is not touched). */
  clear(): void;
}

interface CommandFault<T> {
  matcher: CommandMatcher;
  remaining: FaultTimes;
  value: T;
}

export const DEFAULT_FATAL_REASON = 'connection terminated by simulator';

/** The faults' state, read by sessions. */
export class FaultState {
  refuse: 'close' | 'reset' | false = false;
  delayMs = 0;
  fatalReason: string | null = null;
  dripMs = 0;
  private readonly floodRules: CommandFault<true>[] = [];
  private readonly hugeRules: CommandFault<{ wordBytes: number; words: number }>[] = [];
  private drop: { remaining: number; partial: boolean } | null = null;
  private readonly trapRules: CommandFault<Trap>[] = [];
  private readonly hangRules: CommandFault<true>[] = [];

  armDrop(count: number, partial: boolean): void {
    this.drop = { remaining: Math.max(0, Math.floor(count)), partial };
  }

  /** Called before each reply sentence: `null` to write it, otherwise how to cut the connection. */
  beforeSentence(): { partial: boolean } | null {
    if (this.drop === null) return null;
    if (this.drop.remaining > 0) {
      this.drop.remaining -= 1;
      return null;
    }
    const cut = { partial: this.drop.partial };
    this.drop = null;
    return cut;
  }

  addTrap(matcher: CommandMatcher, trap: TrapFault): void {
    const value: Trap = trap.category === undefined ? { message: trap.message } : { message: trap.message, category: trap.category };
    this.trapRules.push({ matcher, remaining: trap.times ?? 1, value });
  }

  addHang(matcher: CommandMatcher, times: FaultTimes): void {
    this.hangRules.push({ matcher, remaining: times, value: true });
  }

  addFlood(matcher: CommandMatcher, times: FaultTimes): void {
    this.floodRules.push({ matcher, remaining: times, value: true });
  }

  addHuge(matcher: CommandMatcher, size: { wordBytes: number; words?: number; times?: FaultTimes }): void {
    this.hugeRules.push({ matcher, remaining: size.times ?? 1, value: { wordBytes: size.wordBytes, words: size.words ?? 1 } });
  }

  takeFlood(path: string): boolean {
    return take(this.floodRules, path) !== null;
  }

  takeHuge(path: string): { wordBytes: number; words: number } | null {
    return take(this.hugeRules, path);
  }

  takeFatal(): string | null {
    const reason = this.fatalReason;
    this.fatalReason = null;
    return reason;
  }

  takeTrap(path: string): Trap | null {
    return take(this.trapRules, path);
  }

  takeHang(path: string): boolean {
    return take(this.hangRules, path) !== null;
  }

  clear(): void {
    this.refuse = false;
    this.delayMs = 0;
    this.fatalReason = null;
    this.dripMs = 0;
    this.drop = null;
    this.trapRules.length = 0;
    this.hangRules.length = 0;
    this.floodRules.length = 0;
    this.hugeRules.length = 0;
  }
}

function take<T>(rules: CommandFault<T>[], path: string): T | null {
  const index = rules.findIndex((rule) => (typeof rule.matcher === 'string' ? rule.matcher === path : rule.matcher.test(path)));
  const rule = rules[index];
  if (rule === undefined) return null;
  if (rule.remaining !== 'always') {
    rule.remaining -= 1;
    if (rule.remaining <= 0) rules.splice(index, 1);
  }
  return rule.value;
}

export function createFaults(state: FaultState, listener: { goAway(): Promise<void>; comeBack(): Promise<void> }): RouterSimFaults {
  return {
    refuseConnections: (mode = 'close') => {
      state.refuse = mode;
    },
    dropAfterSentences: (count, options) => state.armDrop(count, options?.partial ?? false),
    delayReplies: (ms) => {
      state.delayMs = Math.max(0, ms);
    },
    trapCommand: (command, trap) => state.addTrap(command, trap),
    hangCommand: (command, options) => state.addHang(command, options?.times ?? 1),
    floodReplies: (command, options) => state.addFlood(command, options?.times ?? 1),
    hugeReply: (command, size) => state.addHuge(command, size),
    dripReplies: (ms) => {
      state.dripMs = Math.max(0, ms);
    },
    fatalOnNextCommand: (reason = DEFAULT_FATAL_REASON) => {
      state.fatalReason = reason;
    },
    goAway: () => listener.goAway(),
    comeBack: () => listener.comeBack(),
    clear: () => state.clear(),
  };
}
