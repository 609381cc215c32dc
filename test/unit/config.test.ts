import { ConfigError, loadConfig } from '../../shared/config';
import { resolveJwtSecret } from '../../shared/secret-source';

describe('configuration from the environment', () => {
  test('defaults follow the contract', () => {
    const c = loadConfig({ SWITCHBOARD_TABLE_NAME: 't', SWITCHBOARD_JWT_SECRET: 's' });
    expect(c).toMatchObject({
      retainEvents: 100,
      retainSeconds: 300,
      idempotencySeconds: 3600,
      maxFrameBytes: 4096,
      maxSubscriptions: 100,
      corsOrigins: ['*'],
    });
  });
  test('values are read', () => {
    const c = loadConfig({
      SWITCHBOARD_TABLE_NAME: 't',
      SWITCHBOARD_JWT_SECRET: 's',
      SWITCHBOARD_RETAIN_EVENTS: '5',
      SWITCHBOARD_RETAIN_SECONDS: '10',
      SWITCHBOARD_CORS_ORIGINS: 'https://a.example, https://b.example',
    });
    expect(c).toMatchObject({
      retainEvents: 5,
      retainSeconds: 10,
      corsOrigins: ['https://a.example', 'https://b.example'],
    });
  });
  test('a missing table name fails with a message naming the variable', () => {
    expect(() => loadConfig({ SWITCHBOARD_JWT_SECRET: 's' })).toThrow(/SWITCHBOARD_TABLE_NAME/);
  });
  test('no way to verify tokens fails clearly', () => {
    expect(() => loadConfig({ SWITCHBOARD_TABLE_NAME: 't' })).toThrow(/SWITCHBOARD_JWT_SECRET/);
  });
  test('a bad number names the variable and the value', () => {
    expect(() =>
      loadConfig({ SWITCHBOARD_TABLE_NAME: 't', SWITCHBOARD_JWT_SECRET: 's', SWITCHBOARD_RETAIN_EVENTS: 'lots' }),
    ).toThrow(/SWITCHBOARD_RETAIN_EVENTS must be an integer.*"lots"/);
    expect(() =>
      loadConfig({ SWITCHBOARD_TABLE_NAME: 't', SWITCHBOARD_JWT_SECRET: 's', SWITCHBOARD_MAX_FRAME_BYTES: '1' }),
    ).toThrow(ConfigError);
  });
  test('the local development secret is refused inside AWS Lambda', async () => {
    const config = loadConfig({ SWITCHBOARD_TABLE_NAME: 't', SWITCHBOARD_JWT_SECRET: 'local-dev-secret' });
    await expect(
      resolveJwtSecret(config, { AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' }),
    ).rejects.toThrow(/refusing the local development secret/);
    await expect(resolveJwtSecret(config, {})).resolves.toBe('local-dev-secret');
  });
});
