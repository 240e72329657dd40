/**
 * The benchmark's DynamoDB: dynalite in a worker thread of the benchmark's own process, or in a
 * child process of its own. In production the table's work happens on DynamoDB's side, not on
 * the Lambda's CPU or memory; on the main thread, dynalite's request handling would be billed to
 * the audit's persist stage as if it were the auditor's own work, and in the benchmark's process
 * its in-memory table would count in the auditor's peak RSS. Started by bench/world.ts startStore.
 */
import v8 from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { startLocalStore } from '#lib/store/local.ts';

/** The thread's port, or the child process's IPC channel: the same messages either way. */
const port: { on: (event: 'message', listener: (message: unknown) => void) => void; postMessage: (message: unknown) => void } | null =
  parentPort ??
  (process.send
    ? {
        on: (event, listener) => process.on(event, listener),
        postMessage: (message) => process.send!(message),
      }
    : null);
if (!port) throw new Error('bench/store-worker.ts runs as a worker thread or a forked process (bench/world.ts startStore)');
// A child process left without its parent has no one to serve.
if (!parentPort) process.on('disconnect', () => process.exit(0));
const local = await startLocalStore(null);
port.on('message', (message: unknown) => {
  // The table lives in this thread's heap: its size, after a collection when one can be had.
  if (message === 'heap') {
    (globalThis as { gc?: () => void }).gc?.();
    port.postMessage({ heapUsedBytes: v8.getHeapStatistics().used_heap_size });
    return;
  }
  // The child process's busy time (a worker's is read from the parent side).
  if (message === 'busy') {
    port.postMessage({ busyMs: performance.eventLoopUtilization().active });
    return;
  }
  if (message !== 'close') return;
  void local.close().then(() => port.postMessage('closed'));
});
port.postMessage({ endpoint: local.endpoint, tableName: local.tableName });
