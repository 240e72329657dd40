import { realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { HANDLER_ENTRY } from '#lib/lambda/contract.ts';

/**
 * How the Lambda handler is bundled, in one place: the CDK stack (NodejsFunction, local esbuild)
 * and `bundleHandler` (tests, benchmarks) both read these values, so what CI runs is what deploys.
 * test/infra/stack.test.ts checks that the two produce the same bytes.
 */

/** The repository root: esbuild resolves `#lib/*` through its package.json "imports". */
export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The Lambda runtime's Node.js major version; the stack picks the matching runtime. */
export const LAMBDA_NODE_MAJOR = 24;

/**
 * The esbuild options that shape the output. Deliberately plain data (no aws-cdk-lib types), so
 * the stack maps them onto its bundling props and nothing here drifts from what esbuild runs.
 */
export const BUNDLE = {
  /**
   * ESM: the handler and its libraries (middy, Powertools, zod) are ESM-first, and ESM output
   * lets esbuild pick the SDK's ES builds (`module` first) and tree-shake them.
   */
  format: 'esm',
  /** The output file name NodejsFunction uses for ESM, so `index.handler` finds it. */
  outFileName: 'index.mjs',
  platform: 'node',
  target: `node${LAMBDA_NODE_MAJOR}`,
  mainFields: ['module', 'main'],
  /**
   * CommonJS code in an ESM bundle still calls `require()` for Node built-ins, and ESM has no
   * `require`: esbuild's shim would throw "Dynamic require of … is not supported" at the first such
   * call, at run time, not at build time. Today every dependency resolves to an ES build and none
   * does; this keeps the day a CommonJS one arrives from becoming a night-time failure.
   */
  banner: "import { createRequire as __auditorCreateRequire } from 'node:module'; const require = __auditorCreateRequire(import.meta.url);",
  minify: true,
  /** Class and function names survive minification: error names in logs, `constructor.name` checks. */
  keepNames: true,
  /** A linked source map, without the sources' text: stack traces map back, the asset stays small. */
  sourcemap: true,
  sourcesContent: false,
  /**
   * Nothing is external, the AWS SDK v3 clients included: the bundle runs the SDK version the
   * lockfile pins and the tests ran, not whatever version the Lambda runtime ships that month
   * (the runtime's copy changes without notice and lags releases). Costs bundle size, which the
   * bundle test caps.
   */
  external: [] as string[],
} as const;

/** The esbuild build options for the handler, writing into `outdir` as NodejsFunction does. */
export function handlerBuildOptions(outdir: string): BuildOptions {
  return {
    entryPoints: [join(PROJECT_ROOT, HANDLER_ENTRY)],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    outfile: join(outdir, BUNDLE.outFileName),
    format: BUNDLE.format,
    platform: BUNDLE.platform,
    target: BUNDLE.target,
    mainFields: [...BUNDLE.mainFields],
    banner: { js: BUNDLE.banner },
    minify: BUNDLE.minify,
    keepNames: BUNDLE.keepNames,
    sourcemap: BUNDLE.sourcemap,
    sourcesContent: BUNDLE.sourcesContent,
    external: [...BUNDLE.external],
  };
}

export interface BundleResult {
  /** The bundled handler (`<outdir>/index.mjs`). */
  file: string;
  /** Its size in bytes (the source map is a separate file and not counted). */
  bytes: number;
  /** Every input file esbuild read, relative to the project root (node_modules paths included). */
  inputs: string[];
  /** Modules the bundle still imports at run time (only Node.js built-ins when nothing is external). */
  externals: string[];
}

/** Bundles the handler with exactly the options the stack deploys with. */
export async function bundleHandler(outdir: string): Promise<BundleResult> {
  // The metafile only reports what went in; it does not change the output.
  const result = await build({ ...handlerBuildOptions(outdir), metafile: true, logLevel: 'silent' });
  const file = join(outdir, BUNDLE.outFileName);
  const externals = new Set(
    Object.values(result.metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path)),
  );
  // esbuild names files by their real paths: a node_modules that is a symlink (a git worktree's)
  // is spelled back as node_modules/, as in a plain checkout.
  const modules = await realpath(join(PROJECT_ROOT, 'node_modules')).catch(() => null);
  const spelled = (path: string): string => {
    const inModules = modules ? relative(modules, resolve(PROJECT_ROOT, path)) : '';
    return modules && !inModules.startsWith('..') && !inModules.startsWith(sep) ? `node_modules/${inModules.split(sep).join('/')}` : path;
  };
  const inputs = Object.keys(result.metafile.inputs).map(spelled).sort();
  return { file, bytes: (await stat(file)).size, inputs, externals: [...externals].sort() };
}
