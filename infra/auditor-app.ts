import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addOrganizationStacks, type OrganizationStacks } from './organization-app.ts';
import { readMode } from './organization-config.ts';
import { AccountAuditorStack } from './stack.ts';

export const STACK_ID = 'AccountAuditor';

/**
 * The CDK app with its one stack and cdk-nag's AwsSolutions pack: `infra/app.ts` synthesizes it,
 * the tests build the very same thing. An unacknowledged finding, error or warning, makes the
 * synth fail (cdk-nag reports both as a failed validation).
 */
export function createAuditorApp(props: AppProps = {}): { app: App; stack: AccountAuditorStack } {
  const app = new App(props);
  const stack = new AccountAuditorStack(app, STACK_ID);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

/** The organization stacks (infra/organization-app.ts), with the same cdk-nag pack. */
export function createOrganizationApp(props: AppProps = {}): { app: App; stacks: OrganizationStacks } {
  const app = new App(props);
  const stacks = addOrganizationStacks(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stacks };
}

/** What `infra/app.ts` synthesizes: the single-account stack, or the organization stacks with `-c mode=organization`. */
export function createDeploymentApp(props: AppProps = {}): { app: App } {
  const app = new App(props);
  if (readMode(app) === 'organization') addOrganizationStacks(app);
  else new AccountAuditorStack(app, STACK_ID);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app };
}
