import { Stack, Token, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { LOCAL_DEV_SECRET } from '../shared/config';

/**
 * Where the functions read the HS256 token secret at start-up (shared/secret-source.ts). The value
 * itself never enters the template or the function environment: only the secret's ARN or the
 * parameter's name does.
 */
export type JwtSecretSource =
  /** A Secrets Manager secret whose SecretString is the HS256 secret (its own `encryptionKey`, if any, is granted). */
  | { readonly secret: secretsmanager.ISecret }
  /**
   * The same, named by its full ARN, partial ARN or name (what `-c jwtSecretArn=...` gives); give its
   * customer-managed KMS key (the key, or the key's ARN) when it is not the default `aws/secretsmanager`.
   */
  | { readonly secretArn: string; readonly encryptionKey?: kms.IKey | string }
  /** An SSM SecureString parameter; give its KMS key (or the key's ARN) when it is not the default `aws/ssm` key. */
  | { readonly parameterName: string; readonly encryptionKey?: kms.IKey | string }
  /** No HS256 secret: tokens are verified only against `jwksUrl` (RS256/ES256). */
  | { readonly jwksOnly: true };

/** What the functions are given: their environment and the grant that lets them read the secret. */
export interface ResolvedJwtSecret {
  readonly environment: Record<string, string>;
  grantRead(grantee: iam.IGrantable): void;
  /** The secret this construct generated, when none was given (its ARN is a stack output). */
  readonly generated?: secretsmanager.Secret;
}

/**
 * Resolves a {@link JwtSecretSource}; with none, creates a Secrets Manager secret holding 64 random
 * alphanumeric characters, which operators read to sign tokens (docs/deploy.md).
 */
export function resolveJwtSecret(
  scope: Construct,
  source: JwtSecretSource | undefined,
  opts: { removalPolicy: RemovalPolicy; hasJwks: boolean },
): ResolvedJwtSecret {
  if (source && 'jwksOnly' in source) {
    if (!opts.hasJwks)
      throw new Error(
        'Switchboard: jwtSecret { jwksOnly: true } needs jwksUrl, or tokens could not be verified at all',
      );
    return { environment: {}, grantRead: () => undefined };
  }
  if (source && 'parameterName' in source) {
    const parameter = ssm.StringParameter.fromSecureStringParameterAttributes(scope, 'JwtSecretParameter', {
      parameterName: source.parameterName,
    });
    const keyArn = keyArnOf(source.encryptionKey);
    return {
      environment: { SWITCHBOARD_JWT_SECRET_PARAMETER: source.parameterName },
      grantRead(grantee) {
        // GetParameter (WithDecryption) is the one call secret-source.ts makes.
        iam.Grant.addToPrincipal({ grantee, actions: ['ssm:GetParameter'], resourceArns: [parameter.parameterArn] });
        if (keyArn !== undefined) grantDecryptVia(scope, grantee, keyArn, 'ssm');
      },
    };
  }
  if (source) {
    const secret = 'secret' in source ? source.secret : importSecret(scope, source.secretArn);
    refuseLocalDevSecret(secret);
    // GetSecretValue takes a name or an ARN; a name is passed as given rather than as a partial ARN.
    const secretId = 'secretArn' in source ? source.secretArn : secret.secretArn;
    const keyArn = 'secretArn' in source ? keyArnOf(source.encryptionKey) : secret.encryptionKey?.keyArn;
    return {
      environment: { SWITCHBOARD_JWT_SECRET_ARN: secretId },
      grantRead: (grantee) => grantSecret(scope, grantee, secret, keyArn),
    };
  }
  const generated = new secretsmanager.Secret(scope, 'JwtSecret', {
    description: 'Switchboard HS256 token secret: backends sign client JWTs with it; the Lambda functions verify them.',
    generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    removalPolicy: opts.removalPolicy,
  });
  Validations.of(generated).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      'This HS256 signing key is shared with the backends that mint client tokens. A scheduled rotation would invalidate every token in flight and ' +
      'break backends that have not fetched the new value; it is rotated deliberately by operators (docs/deploy.md, "Rotating the token secret"). ' +
      'Deployments that need automatic key rotation use jwksUrl (asymmetric keys rotated by the identity provider).',
  });
  return {
    environment: { SWITCHBOARD_JWT_SECRET_ARN: generated.secretArn },
    grantRead: (grantee) => grantSecret(scope, grantee, generated, undefined),
    generated,
  };
}

/**
 * GetSecretValue is the one call secret-source.ts makes (no DescribeSecret). A secret known by name
 * or partial ARN is granted as `<name>-??????`, the suffix Secrets Manager appends.
 */
function grantSecret(
  scope: Construct,
  grantee: iam.IGrantable,
  secret: secretsmanager.ISecret,
  keyArn: string | undefined,
): void {
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['secretsmanager:GetSecretValue'],
    resourceArns: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
  });
  if (keyArn !== undefined) grantDecryptVia(scope, grantee, keyArn, 'secretsmanager');
}

/** kms:Decrypt on the key, only when Secrets Manager or SSM asks on the function's behalf. */
function grantDecryptVia(
  scope: Construct,
  grantee: iam.IGrantable,
  keyArn: string,
  service: 'secretsmanager' | 'ssm',
): void {
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `${service}.${Stack.of(scope).region}.amazonaws.com` } },
  });
}

/** IAM authorises a key by its key ARN: an alias or a bare key id would grant nothing. */
function keyArnOf(key: kms.IKey | string | undefined): string | undefined {
  if (key === undefined || typeof key !== 'string') return key?.keyArn;
  if (!Token.isUnresolved(key) && !/^arn:[^:]+:kms:[^:]+:\d{12}:key\/[A-Za-z0-9-]+$/.test(key)) {
    throw new Error(
      `Switchboard: the secret's KMS key must be given as a key ARN (arn:aws:kms:<region>:<account>:key/<id>), got "${key}"`,
    );
  }
  return key;
}

function importSecret(scope: Construct, arnOrName: string): secretsmanager.ISecret {
  // A full ARN ends in the 6-character suffix Secrets Manager appends to the name.
  if (/^arn:[^:]+:secretsmanager:.*-[A-Za-z0-9]{6}$/.test(arnOrName))
    return secretsmanager.Secret.fromSecretCompleteArn(scope, 'JwtSecretImport', arnOrName);
  if (arnOrName.startsWith('arn:'))
    return secretsmanager.Secret.fromSecretPartialArn(scope, 'JwtSecretImport', arnOrName);
  return secretsmanager.Secret.fromSecretNameV2(scope, 'JwtSecretImport', arnOrName);
}

/** Refuses a secret defined in this app whose literal value is the local-mode default. */
function refuseLocalDevSecret(secret: secretsmanager.ISecret): void {
  const cfn = secret.node.defaultChild;
  if (!(cfn instanceof secretsmanager.CfnSecret) || cfn.secretString === undefined) return;
  const value: unknown = Stack.of(secret).resolve(cfn.secretString);
  const text = typeof value === 'string' && !Token.isUnresolved(value) ? value.trim() : undefined;
  if (text === LOCAL_DEV_SECRET) {
    throw new Error(
      `Switchboard: the JWT secret holds "${LOCAL_DEV_SECRET}", the public local-mode default; anyone could sign tokens. ` +
        'Leave jwtSecret unset to generate a random one, or store a real secret.',
    );
  }
}
