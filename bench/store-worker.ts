/**
 * The benchmark's DynamoDB: dynalite in a worker thread of the benchmark's own process. In
 * production the table's work happens on DynamoDB's side, not on the Lambda's CPU; on the main
 * thread, dynalite's request handling would be billed to the audit's persist stage as if it were
 * the auditor's own work. Started by bench/world.ts startStore.
 */
import v8 from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { startLocalStore } from '#lib/store/local.ts';

const port = parentPort;
if (!port) throw new Error('bench/store-worker.ts runs as a worker thread (bench/world.ts startStore)');
const local = await startLocalStore(null);
port.on('message', (message: unknown) => {
  // The table lives in this thread's heap: its size, after a collection when one can be had.
  if (message === 'heap') {
    (globalThis as { gc?: () => void }).gc?.();
    port.postMessage({ heapUsedBytes: v8.getHeapStatistics().used_heap_size });
    return;
  }
  if (message !== 'close') return;
  void local.close().then(() => port.postMessage('closed'));
});
port.postMessage({ endpoint: local.endpoint, tableName: local.tableName });
