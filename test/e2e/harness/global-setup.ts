import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { PROJECT_ROOT } from '../../../infra/bundling.ts';
import { startMoto } from './moto.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** AWS_ENDPOINT_URL of the one moto server of this run. */
    motoEndpoint: string;
    /** Where moto writes its request log while a test records. */
    motoRecordingFile: string;
    /** The folder `npm run synth` wrote (CDK_OUTDIR): the template and the bundled function asset. */
    cdkOut: string;
  }
}

/**
 * Starts one moto server for every e2e file (each file resets it first) and synthesizes the stack
 * once, exactly as `npm run synth` does, so the tests read the deployed template and run the
 * deployed bundle. Fails at once when moto is not installed.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const moto = await startMoto();
  const cdkOut = await mkdtemp(join(tmpdir(), 'aa-e2e-synth-'));
  try {
    await promisify(execFile)(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), ['infra/app.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDK_OUTDIR: cdkOut },
      timeout: 180_000,
    });
  } catch (error) {
    await moto.stop();
    await rm(cdkOut, { recursive: true, force: true });
    throw new Error(`npm run synth failed, so the e2e tests have no template to read: ${(error as Error).message}`);
  }
  project.provide('motoEndpoint', moto.endpoint);
  project.provide('motoRecordingFile', moto.recordingFile);
  project.provide('cdkOut', cdkOut);
  return async () => {
    await moto.stop();
    await rm(cdkOut, { recursive: true, force: true });
  };
}
