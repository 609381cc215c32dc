import { loadConfig } from '../../shared/config';
import { createRuntime } from '../../shared/runtime';
import { verifierFor } from '../../shared/tokens';

/**
 * The AWS stack grants the token secret only to the functions that verify tokens (connect, http);
 * the others run with SWITCHBOARD_VERIFIES_TOKENS=false and no token source at all.
 */
describe('functions that never verify tokens', () => {
  test('start without a token source and never read one', async () => {
    const env = { SWITCHBOARD_TABLE_NAME: 't', SWITCHBOARD_VERIFIES_TOKENS: 'false' };
    expect(loadConfig(env)).toMatchObject({
      jwtSecret: undefined,
      jwtSecretArn: undefined,
      jwtSecretParameter: undefined,
      jwksUrl: undefined,
    });
    const rt = await createRuntime(env);
    expect(rt.config.tableName).toBe('t');
    // Only verifying would need a source, and these functions never verify.
    expect(() => verifierFor(rt)).toThrow(/needs a secret or a JWKS URL/);
  });

  test('every other function still fails at start-up without one, naming the variables', () => {
    expect(() => loadConfig({ SWITCHBOARD_TABLE_NAME: 't' })).toThrow(/SWITCHBOARD_JWT_SECRET_ARN/);
    expect(() => loadConfig({ SWITCHBOARD_TABLE_NAME: 't', SWITCHBOARD_VERIFIES_TOKENS: 'true' })).toThrow(
      /SWITCHBOARD_JWT_SECRET_ARN/,
    );
  });
});
