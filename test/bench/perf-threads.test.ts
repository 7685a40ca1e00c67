import { describe, expect, it } from 'vitest';
import { msPerService, threadParts } from './perf-threads.js';

/** Samples as `perf script -F tid,ip,sym` prints them: the thread id, then the stack a frame a line. */
const sample = (tid: number, ...frames: string[]): string => [`${tid} `, ...frames.map((f, i) => `\t    7f8af7${String(i).padStart(6, '0')} ${f}`)].join('\n');

const SCRIPT = [
  sample(100, 'JS:^emit node:events:471:44', 'node::InternalMakeCallback', 'uv_run'),
  sample(100, 'v8::internal::JsonParser<unsigned char>::ParseJson', 'JS:*parseLine file:///dist/chunk.js:1:2'),
  sample(100, 'v8::internal::ScavengerCollector::CollectGarbage', 'v8::internal::Heap::CollectGarbage', 'JS:*push file:///dist/chunk.js:3:4'),
  sample(101, 'v8::internal::compiler::GraphReducer::ReduceNode', 'v8::internal::OptimizedCompilationJob::ExecuteJob', 'v8::internal::OptimizingCompileDispatcher::CompileNext'),
  sample(102, 'v8::internal::compiler::EscapeAnalysis::Reduce', 'v8::internal::OptimizingCompileDispatcher::CompileTask::RunInternal'),
  sample(102, 'v8::internal::heap::ScavengerTask::RunInParallel', 'node::WorkerThreadsTaskRunner::DelayedTaskScheduler::Run'),
  sample(103, 'uv__io_poll', 'uv_run'),
].join('\n\n');

describe("our controller's CPU by thread, from perf", () => {
  it('counts the main thread apart from its collections, and the workers by what they do', () => {
    expect(threadParts(SCRIPT, 100)).toEqual({ main: 2, 'main-gc': 1, compile: 2, gc: 1, other: 1 });
    // another process's main thread: every sample is then a worker's
    expect(threadParts(SCRIPT, 999)).toEqual({ main: 0, 'main-gc': 0, compile: 2, gc: 2, other: 3 });
    expect(threadParts('', 100)).toEqual({ main: 0, 'main-gc': 0, compile: 0, gc: 0, other: 0 });
  });

  it('turns samples (499 a second of CPU) into milliseconds per Service', () => {
    const ms = msPerService({ main: 4990, 'main-gc': 0, compile: 998, gc: 0, other: 499 }, 1000);
    expect(ms.main).toBeCloseTo(10);
    expect(ms.compile).toBeCloseTo(2);
    expect(ms.other).toBeCloseTo(1);
  });
});
