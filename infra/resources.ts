import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { TABLE_DEFINITION } from '../shared/store/table-definition';
import type { SwitchboardProps } from './props';

/** The table: `existingTable` (checked when defined in this app), or a new one shaped by `tableProps`. */
export function switchboardTable(
  scope: Construct,
  props: SwitchboardProps,
  removalPolicy: RemovalPolicy,
): dynamodb.ITable {
  if (props.existingTable) {
    checkTableShape(props.existingTable);
    return props.existingTable;
  }
  return new dynamodb.Table(scope, 'Table', {
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
    ...props.tableProps,
    partitionKey: { name: TABLE_DEFINITION.partitionKey.name, type: dynamodb.AttributeType.STRING },
    sortKey: { name: TABLE_DEFINITION.sortKey.name, type: dynamodb.AttributeType.STRING },
    timeToLiveAttribute: TABLE_DEFINITION.timeToLiveAttribute,
  });
}

/**
 * A table defined in this app (Table or TableV2) must have the keys and TTL of TABLE_DEFINITION; an
 * imported one cannot be inspected at synth and is taken as it is (docs/deploy.md says what it needs).
 */
function checkTableShape(table: dynamodb.ITable): void {
  const cfn = table.node.defaultChild;
  if (!(cfn instanceof dynamodb.CfnTable) && !(cfn instanceof dynamodb.CfnGlobalTable)) return;
  const resolve = (v: unknown) => Stack.of(table).resolve(v) as unknown;
  const keys = resolve(cfn.keySchema) as { attributeName: string; keyType: string }[];
  const types = resolve(cfn.attributeDefinitions) as { attributeName: string; attributeType: string }[] | undefined;
  const ttl = resolve(cfn.timeToLiveSpecification) as { attributeName?: string; enabled?: boolean } | undefined;
  const typeOf = (name: string) => types?.find((d) => d.attributeName === name)?.attributeType;
  const want = TABLE_DEFINITION;
  const problems: string[] = [];
  const hash = keys.find((k) => k.keyType === 'HASH')?.attributeName;
  const range = keys.find((k) => k.keyType === 'RANGE')?.attributeName;
  if (hash !== want.partitionKey.name || typeOf(hash) !== 'S')
    problems.push(`partition key must be "${want.partitionKey.name}" (string), is ${hash ?? 'none'}`);
  if (range !== want.sortKey.name || typeOf(range) !== 'S')
    problems.push(`sort key must be "${want.sortKey.name}" (string), is ${range ?? 'none'}`);
  if (ttl?.attributeName !== want.timeToLiveAttribute || ttl.enabled === false)
    problems.push(`TTL must be on "${want.timeToLiveAttribute}"`);
  if (problems.length > 0) throw new Error(`Switchboard: existingTable ${table.node.path}: ${problems.join('; ')}`);
}

/**
 * A table encrypted with a customer-managed key: its users need the key too (what
 * Table.grantReadWriteData adds for such a table). Nothing for AWS-owned or AWS-managed keys.
 */
export function grantTableKey(table: dynamodb.ITable, grantee: iam.IGrantable): void {
  table.encryptionKey?.grant(
    grantee,
    'kms:Decrypt',
    'kms:DescribeKey',
    'kms:Encrypt',
    'kms:ReEncrypt*',
    'kms:GenerateDataKey*',
  );
}

/** The key for the topics Switchboard creates: `encryptionKey`, else a new one with rotation. */
export function topicKey(
  scope: Construct,
  props: SwitchboardProps,
  removalPolicy: RemovalPolicy,
): kms.IKey | undefined {
  if (props.existingTopic && props.existingAlarmTopic) return undefined;
  // CloudWatch can publish to a topic encrypted with a customer-managed key (not with aws/sns), and
  // backends in other accounts can be granted it.
  return (
    props.encryptionKey ??
    new kms.Key(scope, 'TopicKey', {
      description: 'Switchboard: encrypts the event and alarm SNS topics',
      enableKeyRotation: true,
      removalPolicy,
    })
  );
}

/** The event topic: `existingTopic`, or a new standard topic, encrypted and TLS-only. */
export function eventTopic(scope: Construct, props: SwitchboardProps, key: kms.IKey | undefined): sns.ITopic {
  return (
    props.existingTopic ??
    new sns.Topic(scope, 'Topic', {
      displayName: 'Switchboard events',
      masterKey: key,
      enforceSSL: true,
      ...props.topicProps,
    })
  );
}
