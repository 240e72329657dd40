/**
 * `npm run build` (and `prepare`, so `npm ci` runs it): bundles the command line into dist/cli/.
 *
 * Plain JavaScript, so that neither `npm ci` nor bin/account-auditor.js needs a TypeScript loader
 * to build. Beside the bundle it writes dist/cli/sources.json: the build's start time and every
 * project file the bundle was made from, which bin/account-auditor.js compares against on each
 * call to rebuild a bundle that is missing or older than its sources.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
/**
 * Two folders below the root, as the sources of lib/<stage>/ are, so a path a module computes
 * from its own `import.meta.url` (the demo account's, for one) holds in the bundle too.
 */
export const OUT_DIR = join(ROOT, 'dist', 'cli');
export const ENTRY_FILE = join(OUT_DIR, 'main.mjs');
export const SOURCES_FILE = join(OUT_DIR, 'sources.json');

/**
 * Besides the bundle's own inputs, these make it stale: this script, and the installed
 * dependencies (npm rewrites node_modules/.package-lock.json on every install), where they exist.
 */
const ALSO_DEPENDS_ON = ['scripts/build-cli.js', 'node_modules/.package-lock.json'];

/**
 * A build's files stay this long after a newer build replaced them: a command that started on
 * the older bundle still finds the chunks it imports later (a check's logic, say).
 */
const KEEP_REPLACED_MS = 60 * 60 * 1000;
/** A build takes seconds: a private file older than this belongs to a build that was killed. */
const ABANDONED_MS = 10 * 60 * 1000;

/**
 * ESM with code splitting: every module reached only through `await import()` lands in a chunk
 * of its own that loads when that import runs, so `checks` and `--help` load the catalogue and
 * commander, not the AWS SDK, the store or the renderers. Chunk names are content hashes, so two
 * builds of the same sources write the same files.
 */
export function cliBuildOptions() {
  return {
    entryPoints: [join(ROOT, 'lib', 'cli', 'main.ts')],
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    outdir: OUT_DIR,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    format: 'esm',
    platform: 'node',
    target: 'node20',
    mainFields: ['module', 'main'],
    // CommonJS dependencies (commander, for one) call require() for Node built-ins; ESM has none.
    banner: {
      js: "import { createRequire as __auditorCreateRequire } from 'node:module'; const require = __auditorCreateRequire(import.meta.url);",
    },
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    /**
     * dynalite runs from node_modules: it requires its action modules by computed names, and the
     * LevelDB binding under it finds its compiled addon beside its own files. It is imported by
     * the chunk of the local store only.
     */
    external: ['dynalite'],
    metafile: true,
    logLevel: 'warning',
  };
}

async function previousBuild() {
  try {
    return JSON.parse(await readFile(SOURCES_FILE, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Builds the bundle. Concurrent builds (two commands finding it stale at once) are safe: each
 * writes private files and renames them into place, chunks first, then main.mjs, then the list
 * that declares them fresh, so a reader of the new list finds the new bundle.
 */
export async function buildCli() {
  const { build } = await import('esbuild');
  const started = Date.now();
  const result = await build({ ...cliBuildOptions(), write: false });
  // The project's own files: not the dependencies, which ALSO_DEPENDS_ON stands for.
  const inputs = Object.keys(result.metafile.inputs).filter((path) => !/(^|\/)node_modules\//.test(path));
  const outputs = result.outputFiles.map((file) => basename(file.path)).sort();
  const previous = await previousBuild();
  const gone = (previous?.outputs ?? []).filter((name) => !outputs.includes(name));
  const replaced = [
    ...(previous?.replaced ?? []).filter((build) => started - build.at < KEEP_REPLACED_MS),
    ...(gone.length > 0 ? [{ at: started, outputs: gone }] : []),
  ];
  const also = ALSO_DEPENDS_ON.filter((path) => existsSync(join(ROOT, path)));
  const sources = { builtAt: started, files: [...new Set([...inputs, ...also])].sort(), outputs, replaced };
  const last = (name) => (name === 'sources.json' ? 2 : name === 'main.mjs' ? 1 : 0);
  const files = [
    ...result.outputFiles.map((file) => ({ name: basename(file.path), contents: file.contents })),
    { name: 'sources.json', contents: `${JSON.stringify(sources, null, 2)}\n` },
  ].sort((a, b) => last(a.name) - last(b.name));
  await mkdir(OUT_DIR, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = (name) => join(OUT_DIR, `.${tag}-${name}`);
  try {
    await Promise.all(files.map((file) => writeFile(temp(file.name), file.contents)));
    for (const file of files) await rename(temp(file.name), join(OUT_DIR, file.name));
  } finally {
    await Promise.all(files.map((file) => rm(temp(file.name), { force: true })));
  }
  // What no recent build wrote goes. Dot files are other builds' work in progress, or, once old,
  // what a build that was killed left.
  const keep = new Set(['sources.json', ...outputs, ...replaced.flatMap((build) => build.outputs)]);
  const names = await readdir(OUT_DIR);
  const abandoned = async (name) => started - (await stat(join(OUT_DIR, name)).catch(() => ({ mtimeMs: started }))).mtimeMs > ABANDONED_MS;
  const stale = [];
  for (const name of names) if (name.startsWith('.') ? await abandoned(name) : !keep.has(name)) stale.push(name);
  await Promise.all(stale.map((name) => rm(join(OUT_DIR, name), { force: true })));
  return { file: ENTRY_FILE, ms: Date.now() - started };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { file, ms } = await buildCli();
  process.stdout.write(`built ${relative(ROOT, file)} in ${ms} ms\n`);
}
