/**
 * The gateway as a benchmark target: started in its own process (so the load generator
 * never shares its event loop), configured by the environment the runner passes, and
 * reporting its port over the IPC channel. SIGTERM stops it cleanly, which also lets
 * `--cpu-prof` write its profile.
 */
import { startGateway } from '../../gateway/src/main.js';

const gateway = await startGateway({ ...process.env, PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0' });
process.send?.({ port: gateway.port });
// The runner asks for the monotonic clock (µs, the profiler's time base) around a measurement,
// so the CPU profile can be cut to the load window, without start-up and module loading.
process.on('message', (m: { type?: string }) => {
  if (m.type === 'clock') process.send?.({ clockMicros: Number(process.hrtime.bigint() / 1000n) });
});
const stop = () => void gateway.stop().then(() => process.exit(0));
process.once('SIGTERM', stop);
// A runner that dies without stopping us must not leave a gateway behind.
process.once('disconnect', stop);
