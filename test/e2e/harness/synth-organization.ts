/**
 * Synthesizes the OrganizationAuditStack as `npm run synth -- -c mode=organization` does, with the
 * context given as JSON in argv[2], into the folder argv[3], and prints its template. Bundling is
 * skipped: the per-account function's code is functions/audit.ts, which the tests import as is.
 * Run in a child process (harness/organization-template.ts), so synthesis overlaps the seeding.
 */
import { App } from 'aws-cdk-lib';
import { ORGANIZATION_STACK_IDS } from '../../../infra/organization-app.ts';
import { readOrganizationSettings } from '../../../infra/organization-config.ts';
import { OrganizationAuditStack } from '../../../infra/organization-stack.ts';

const [contextJson = '{}', outdir] = process.argv.slice(2);
if (!outdir) throw new Error('usage: synth-organization.ts <context JSON> <outdir>');
const app = new App({ outdir, context: { ...JSON.parse(contextJson), 'aws:cdk:bundling-stacks': [] } });
const stack = new OrganizationAuditStack(app, ORGANIZATION_STACK_IDS.audit, { settings: readOrganizationSettings(app) });
process.stdout.write(JSON.stringify(app.synth().getStackByName(stack.stackName).template));
