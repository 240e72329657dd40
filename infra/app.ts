import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './bundling.ts';
import { createDeploymentApp } from './auditor-app.ts';

/**
 * Entry point, run two ways with the same result:
 * - `npm run synth` runs it directly (tsx): no CDK CLI, so no AWS SDK and no network at all. It
 *   reads cdk.json's "context" itself and takes `-c key=value` arguments like the CLI does.
 * - `npx cdk synth` (cdk.json's "app"): the CLI passes cdk.json's and `-c` context in its
 *   environment, which the App reads and which wins over what is read here.
 */
function contextFromCdkJson(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

function contextFromArgs(args: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const inline = /^(?:-c|--context)=(.*)$/.exec(arg);
    const pair = inline ? inline[1] : arg === '-c' || arg === '--context' ? args[++i] : undefined;
    if (pair === undefined) throw new Error(`unexpected argument ${JSON.stringify(arg)}; usage: npm run synth -- [-c key=value]...`);
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`context must be key=value, got ${JSON.stringify(pair)}`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
}

const { app } = createDeploymentApp({
  context: { ...contextFromCdkJson(), ...contextFromArgs(process.argv.slice(2)) },
  // Under the CLI, CDK_OUTDIR names the output folder; run directly, it is cdk.out as for the CLI.
  ...(process.env.CDK_OUTDIR ? {} : { outdir: join(PROJECT_ROOT, 'cdk.out') }),
});
app.synth();
