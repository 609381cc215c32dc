import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SwitchboardStack } from '../../infra/switchboard-stack';
import type { SwitchboardProps } from '../../infra/switchboard-construct';

/**
 * Synthesizes a SwitchboardStack without bundling: `aws:cdk:bundling-stacks: []` makes every
 * NodejsFunction a placeholder asset, so a synth takes seconds instead of running esbuild five
 * times. Real bundling is exercised by `npx cdk synth`.
 */
export function synth(props?: SwitchboardProps): { app: App; stack: SwitchboardStack; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SwitchboardStack(app, 'Test', { switchboard: props });
  return { app, stack, template: Template.fromStack(stack) };
}

/** A resource's Properties: arbitrary CloudFormation JSON whose shape the tests assert on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- deep property paths are the point of these assertions
export type CfnProperties = Record<string, any>;

export type Resources = Record<
  string,
  { Type: string; Properties?: CfnProperties; DependsOn?: string[]; DeletionPolicy?: string }
>;

export function resourcesOf(template: Template, type?: string): Resources {
  const all = template.toJSON().Resources as Resources;
  return type ? Object.fromEntries(Object.entries(all).filter(([, r]) => r.Type === type)) : all;
}

/** The logical id of the only resource of `type` whose logical id contains `fragment`. */
export function logicalId(template: Template, type: string, fragment: string): string {
  const ids = Object.keys(resourcesOf(template, type)).filter((id) => id.includes(fragment));
  if (ids.length !== 1) throw new Error(`expected one ${type} matching ${fragment}, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
}

/** `connect` → `Connect`: the construct ids are `<Name>Function`, `<Name>Role`, `<Name>Logs`. */
export const pascal = (name: string): string => `${name.charAt(0).toUpperCase()}${name.slice(1)}`;

export const functionLogicalId = (template: Template, name: string): string =>
  logicalId(template, 'AWS::Lambda::Function', `${pascal(name)}Function`);

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
