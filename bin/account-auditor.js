#!/usr/bin/env node
// The command line runs the TypeScript sources directly through tsx, so there is no build step
// to forget between editing and running; the Lambda gets its own esbuild bundle.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv);
