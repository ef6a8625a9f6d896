/**
 * The gateway as a benchmark target: started in its own process (so the load generator
 * never shares its event loop), configured by the environment the runner passes, and
 * reporting its port over the IPC channel. SIGTERM stops it cleanly, which also lets
 * `--cpu-prof` write its profile.
 */
import { startGateway } from '../../gateway/src/main.js';
import { answerProbes } from './child-probes.js';

const gateway = await startGateway({ ...process.env, PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0' });
process.send?.({ port: gateway.port });
// The runner asks for the clock around a measurement (to cut the CPU profile to the load
// window) and for the bytes allocated during one.
answerProbes();
const stop = () => void gateway.stop().then(() => process.exit(0));
process.once('SIGTERM', stop);
// A runner that dies without stopping us must not leave a gateway behind.
process.once('disconnect', stop);
