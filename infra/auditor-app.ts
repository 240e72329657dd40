import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
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
