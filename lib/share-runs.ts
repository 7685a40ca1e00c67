/** A key's run in flight, and the run that callers arriving meanwhile share (started after it). */
interface Slot<R> {
  current: Promise<R>;
  next?: Promise<R>;
}

/**
 * `run` shared per key within this instance. A call while no run of its key is in flight starts
 * one; a call while one is in flight waits for it and shares the run after it, which starts
 * once every call it serves has arrived, so it reads at least what each of them would have. A
 * burst of N calls for one key costs two runs instead of N. A call that any run will do
 * (`joinInFlight`) shares the one in flight. Results and errors go to every caller of the run.
 */
export function shareRuns<K, R>(run: (key: K) => Promise<R>): (key: K, joinInFlight?: boolean) => Promise<R> {
  const slots = new Map<K, Slot<R>>();
  const begin = (key: K): Promise<R> => {
    const slot: Slot<R> = { current: Promise.resolve().then(() => run(key)) };
    slots.set(key, slot);
    const settled = (): void => {
      if (slots.get(key) === slot && slot.next === undefined) slots.delete(key);
    };
    slot.current.then(settled, settled);
    return slot.current;
  };
  return (key, joinInFlight = false) => {
    const slot = slots.get(key);
    if (!slot) return begin(key);
    if (joinInFlight) return slot.current;
    slot.next ??= slot.current.then(() => undefined, () => undefined).then(() => begin(key));
    return slot.next;
  };
}
