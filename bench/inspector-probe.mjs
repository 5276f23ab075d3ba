/**
 * Profiles a part of a running daemon's life from inside it, without changing its code: load it
 * with `node --import` by its absolute path (the benchmarks run the daemon in a temporary folder:
 * `--node-args "--import $PWD/bench/inspector-probe.mjs"`). After PROBE_START seconds it samples
 * allocations and, with PROBE_CPU=1, the CPU, for PROBE_SECS seconds, and writes
 * `<pid>.heapprofile` and `<pid>.cpuprofile` into PROBE_DIR (an absolute path; both files open in
 * Chrome DevTools). PROBE_MINOR=0 keeps only the objects that outlived a scavenge (what grows the
 * old generation); by default every allocation is kept.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const startMs = Number(process.env.PROBE_START ?? 200) * 1000;
const forMs = Number(process.env.PROBE_SECS ?? 60) * 1000;
const dir = process.env.PROBE_DIR ?? 'probe';
const cpu = process.env.PROBE_CPU === '1';

const session = new Session();
session.connect();
const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));

setTimeout(async () => {
  mkdirSync(dir, { recursive: true });
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', {
    samplingInterval: 8192,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: process.env.PROBE_MINOR !== '0',
  });
  if (cpu) {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 1000 });
    await post('Profiler.start');
  }
  setTimeout(async () => {
    const { profile } = await post('HeapProfiler.stopSampling');
    writeFileSync(join(dir, `${process.pid}.heapprofile`), JSON.stringify(profile));
    if (cpu) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify((await post('Profiler.stop')).profile));
    process.stderr.write(`inspector probe: profiles written to ${dir}\n`);
  }, forMs).unref();
}, startMs).unref();
