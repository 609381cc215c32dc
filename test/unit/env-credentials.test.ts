import { defaultProvider, envCredentials } from '../../shared/env-credentials';

/**
 * What the functions' SDK clients sign with (shared/env-credentials.ts): the environment's
 * credentials, as Lambda sets them, and a clear error without them. In the bundles it also stands
 * in for the SDK's default chain (`@aws-sdk/credential-provider-node`'s `defaultProvider`).
 */
const KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;
let saved: Record<string, string | undefined>;
beforeEach(() => {
  saved = Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
});
afterEach(() => {
  for (const k of KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

test('reads the key, secret and session token Lambda sets', async () => {
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'ASIAX', AWS_SECRET_ACCESS_KEY: 's3cret', AWS_SESSION_TOKEN: 'tok' });
  await expect(envCredentials()()).resolves.toMatchObject({
    accessKeyId: 'ASIAX',
    secretAccessKey: 's3cret',
    sessionToken: 'tok',
  });
  await expect(defaultProvider()()).resolves.toMatchObject({ accessKeyId: 'ASIAX' });
});

test('without them, fails naming the variables', async () => {
  for (const k of KEYS) delete process.env[k];
  await expect(envCredentials()()).rejects.toThrow(
    /^Switchboard: no AWS credentials in the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set/,
  );
  await expect(defaultProvider()()).rejects.toThrow(/no AWS credentials in the environment/);
});
