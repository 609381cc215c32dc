import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { appSettings } from './app-context';
import { SwitchboardStack } from './switchboard-stack';

/**
 * `npx cdk synth|deploy [-c key=value ...]` (context keys: infra/app-context.ts, docs/deploy.md).
 * The stack is environment-agnostic (no account or region at synth), so it synthesizes offline with
 * no credentials; `cdk deploy` takes both from the AWS profile. cdk-nag's AwsSolutions checks run
 * on every synth; an unacknowledged finding fails it.
 */
const app = new App();
const { stackName, props } = appSettings(app.node.getAllContext() as Record<string, unknown>);
new SwitchboardStack(app, stackName, { switchboard: props });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
