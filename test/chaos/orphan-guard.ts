// Preloaded (`node --import`) into every process the chaos runner starts: when the runner dies
// without stopping its children (SIGKILL, crash), the child notices it was re-parented and exits,
// so no function or bridge process outlives a run.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(70);
}, 1000).unref();
