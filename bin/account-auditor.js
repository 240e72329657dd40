#!/usr/bin/env node
// The command line runs the TypeScript sources directly through tsx, so there is no build step
// to forget between editing and running; the Lambda gets its own esbuild bundle.
import { register } from 'tsx/esm/api';

// The SDK warns on every run under Node 20 that its 2027 releases will need Node 22; the lockfile
// pins today's SDK, so the warning is noise among findings. A value set by the user wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv);
