/**
 * A request started now and awaited later (an event beside a status write): a handler is
 * attached at once, so a failure before the await is not an unhandled rejection; awaiting the
 * returned promise still rejects with it.
 */
export function inBackground(work: Promise<void>): Promise<void> {
  work.catch(() => undefined);
  return work;
}
