/**
 * The messages a test sink received, newest first per recipient, and a wait for the next one:
 * what the mail sink and the SMS sink share.
 */
export function createInbox<T>(matches: (message: T, recipient: string) => boolean, kind: string) {
  const messages: T[] = [];
  const waiters = new Set<() => void>();
  const to = (recipient: string) => messages.filter((m) => matches(m, recipient)).reverse();
  return {
    messages,
    to,
    /** Keeps a message and wakes whoever waits. */
    add(message: T) {
      messages.push(message);
      for (const wake of waiters) wake();
    },
    /** The newest message to `recipient` once there are more than `seen`. */
    async waitFor(recipient: string, seen = 0, timeoutMs = 15_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = to(recipient);
        if (found.length > seen) return found[0]!;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${kind} to ${recipient} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
  };
}
