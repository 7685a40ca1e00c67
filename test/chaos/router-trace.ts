import { writeFile } from 'node:fs/promises';
import type { RouterSim } from '../../lib/routeros/sim/index.js';

export interface CommandTrace {
  /** Writes every command the simulator received, each with the time it arrived (to within 250 ms). */
  save(file: string): Promise<void>;
  stop(): void;
}

/** The simulator's command log, timed by sampling its counter: for post-mortems of a violation. */
export function traceCommands(sim: RouterSim): CommandTrace {
  const marks: { at: number; count: number }[] = [];
  const timer = setInterval(() => marks.push({ at: Date.now(), count: sim.stats.commands }), 250);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    save: async (file) => {
      let m = 0;
      const lines = sim.commandLog().map((words, i) => {
        while (m < marks.length - 1 && (marks[m]?.count ?? 0) <= i) m++;
        const at = marks[m]?.at;
        return `${i} ${at === undefined ? '?' : new Date(at).toISOString()} ${words.join(' ')}`;
      });
      await writeFile(file, `${lines.join('\n')}\n`);
    },
  };
}
