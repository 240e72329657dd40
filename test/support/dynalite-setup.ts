/**
 * Global setup of the projects whose tests talk to DynamoDB: one in-memory dynalite server per
 * worker slot, started once for the run. Each test takes its own table on its worker's server
 * (#test/dynalite.ts freshTable), so tests never see each other's items and no test pays for a
 * server. Tests about the embedded store itself (startLocalStore, state folders) still start theirs.
 */
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** http://127.0.0.1:<port> of each worker slot's server: VITEST_POOL_ID 1 takes the first. */
    dynaliteEndpoints: string[];
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const slots = Math.max(1, Number(project.config.maxWorkers) || 1);
  const servers = await Promise.all(
    Array.from({ length: slots }, async () => {
      const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(0, '127.0.0.1', () => done());
      });
      return server;
    }),
  );
  project.provide(
    'dynaliteEndpoints',
    servers.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`),
  );
  return async () => {
    await Promise.all(servers.map((server) => new Promise<void>((done) => server.close(() => done()))));
  };
}
