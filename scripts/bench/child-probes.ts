/**
 * What a benchmark target process answers over its IPC channel besides its port: its
 * monotonic clock (µs, the CPU profiler's time base, to cut a profile to the load window)
 * and the bytes it allocates between `alloc-start` and `alloc-stop`, from V8's sampling
 * heap profiler with the objects later collected by the garbage collector counted too.
 */
import { Session } from 'node:inspector';

interface SamplingNode {
  selfSize: number;
  children: SamplingNode[];
}

const total = (node: SamplingNode): number => node.children.reduce((sum, c) => sum + total(c), node.selfSize);

export function answerProbes(): void {
  let session: Session | undefined;
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session!.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
    );
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'clock') process.send?.({ clockMicros: Number(process.hrtime.bigint() / 1000n) });
    if (m.type === 'alloc-start') {
      session = new Session();
      session.connect();
      void post('HeapProfiler.enable')
        .then(() =>
          post('HeapProfiler.startSampling', {
            samplingInterval: 256,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: true,
          }),
        )
        .then(() => process.send?.({ allocStarted: true }));
    }
    if (m.type === 'alloc-stop' && session) {
      void post('HeapProfiler.stopSampling').then((result) => {
        const { profile } = result as { profile: { head: SamplingNode } };
        session?.disconnect();
        session = undefined;
        process.send?.({ allocatedBytes: total(profile.head) });
      });
    }
  });
}
