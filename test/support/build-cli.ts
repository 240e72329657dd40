import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Global setup: the command line's bundle is current before any test spawns it, so parallel
 * spawns never race to rebuild it (bin/ rebuilds a stale bundle on its next call).
 */
export default function setup(): void {
  const bin = fileURLToPath(new URL('../../bin/account-auditor.js', import.meta.url));
  const result = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`could not build the command line's bundle: ${result.stderr}`);
}
