/**
 * Coalesces concurrent calls of one statement into one round trip (a group commit). A call
 * made while no batch is in flight starts one at once (with the calls of the same turn);
 * calls made while one is in flight wait for it, then go together in the next. `run` answers
 * one value per item, in order; every caller gets its own, or the batch's error.
 *
 * With `keyOf`, the items of a batch have distinct keys: an item whose key is already in
 * the batch waits for the one after it, so `run` may treat each key as one row (an UPDATE
 * whose outcome per row is its own).
 */
export function coalesced<I, V>(
  run: (items: I[]) => Promise<V[]>,
  keyOf?: (item: I) => unknown,
): (item: I) => Promise<V> {
  interface Waiting {
    item: I;
    resolve(value: V): void;
    reject(err: unknown): void;
  }
  let queue: Waiting[] = [];
  let inFlight = false;

  /** The next batch out of the queue: all of it, or its first item of each key. */
  function take(): Waiting[] {
    if (!keyOf) {
      const batch = queue;
      queue = [];
      return batch;
    }
    const keys = new Set<unknown>();
    const batch: Waiting[] = [];
    const later: Waiting[] = [];
    for (const w of queue) {
      const key = keyOf(w.item);
      if (keys.has(key)) later.push(w);
      else {
        keys.add(key);
        batch.push(w);
      }
    }
    queue = later;
    return batch;
  }

  async function drain() {
    while (queue.length > 0) {
      const batch = take();
      try {
        const answers = await run(batch.map((w) => w.item));
        batch.forEach((w, i) => w.resolve(answers[i] as V));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    inFlight = false;
  }

  return (item) =>
    new Promise<V>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (inFlight) return;
      inFlight = true;
      queueMicrotask(() => void drain());
    });
}
