import { ConfigError, LOCAL_DEV_SECRET, type Config } from './config';

/**
 * Resolves the HS256 secret: given directly (local mode, tests), or read once per container from
 * Secrets Manager or an SSM SecureString (the AWS stack). The local default secret is refused
 * inside AWS Lambda. The Secrets Manager and SSM clients are loaded only when used, so they do not
 * add to every cold start.
 */
export async function resolveJwtSecret(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  let secret = config.jwtSecret;
  if (!secret && config.jwtSecretArn) {
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    const r = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: config.jwtSecretArn }));
    secret = r.SecretString;
    if (!secret)
      throw new ConfigError('the JWT secret in Secrets Manager (SWITCHBOARD_JWT_SECRET_ARN) has no string value');
  } else if (!secret && config.jwtSecretParameter) {
    const { GetParameterCommand, SSMClient } = await import('@aws-sdk/client-ssm');
    const r = await new SSMClient({}).send(
      new GetParameterCommand({ Name: config.jwtSecretParameter, WithDecryption: true }),
    );
    secret = r.Parameter?.Value;
    if (!secret) throw new ConfigError('the JWT secret parameter (SWITCHBOARD_JWT_SECRET_PARAMETER) is empty');
  }
  if (secret === LOCAL_DEV_SECRET && env.AWS_LAMBDA_FUNCTION_NAME && env.AWS_EXECUTION_ENV?.startsWith('AWS_Lambda')) {
    throw new ConfigError(
      `refusing the local development secret "${LOCAL_DEV_SECRET}" inside AWS Lambda: configure a real secret`,
    );
  }
  return secret;
}
