import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Switchboard } from '../../infra/switchboard-construct';
import { synth } from './synth';

/**
 * cfn-lint (AWS's CloudFormation linter: resource schemas, value ranges, cross-property rules) on
 * the synthesized templates: the default stack and one using most props. 0 errors. Warnings are
 * allowed only for W3005 (a DependsOn that a reference already implies), which CDK itself emits.
 *
 * cfn-lint is a Python tool; these machines have it with their Python. Where it is missing this test
 * fails with how to install it rather than passing without having linted anything.
 */
const ALLOWED_WARNINGS = ['W3005'];

interface Finding {
  Level: 'Error' | 'Warning' | 'Informational';
  Rule: { Id: string };
  Message: string;
  Filename: string;
}

function cfnLint(): string {
  const probe = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'cfn-lint is not installed, so the templates could not be linted. Install it with `pip install cfn-lint` (Python 3.9+; ' +
        "it comes with the Python of this project's machines), then run this test again.",
    );
  }
  return probe.stdout.trim();
}

test('cfn-lint finds no errors in the synthesized templates', () => {
  const version = cfnLint();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-cfn-lint-'));
  try {
    const files: string[] = [];
    const write = (name: string, template: Template) => {
      const file = path.join(dir, `${name}.template.json`);
      fs.writeFileSync(file, JSON.stringify(template.toJSON(), null, 1));
      files.push(file);
    };
    write('default', synth().template);
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Options');
    new Switchboard(stack, 'Realtime', {
      existingTable: new dynamodb.Table(stack, 'Table', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        timeToLiveAttribute: 'ttl',
      }),
      existingTopic: new sns.Topic(stack, 'Events'),
      jwtSecret: {
        parameterName: '/sb/jwt',
        encryptionKey: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
      jwksUrl: 'https://auth.example.com/jwks.json',
      stageName: 'live',
      apiGatewayCloudWatchRole: 'none',
      deliveryLanes: 64,
      deliverMaxConcurrency: 32,
      alarmEmail: 'ops@example.com',
    });
    write('options', Template.fromStack(stack));

    const run = spawnSync('cfn-lint', ['--format', 'json', ...files], { encoding: 'utf8', timeout: 120_000 });
    expect(run.stderr).toBe('');
    const findings = JSON.parse(run.stdout || '[]') as Finding[];
    const show = (f: Finding) => `${path.basename(f.Filename)} ${f.Rule.Id}: ${f.Message}`;
    console.log(
      `${version}: ${findings.length} findings (${[...new Set(findings.map((f) => f.Rule.Id))].join(', ') || 'none'})`,
    );
    expect(findings.filter((f) => f.Level === 'Error').map(show)).toEqual([]);
    expect(findings.filter((f) => f.Level === 'Warning' && !ALLOWED_WARNINGS.includes(f.Rule.Id)).map(show)).toEqual(
      [],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 150_000);
