import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { TokenError } from '../../shared/errors';
import { TokenVerifier } from '../../shared/tokens';
import { signToken, TestClock } from '../helpers/runtime';

const secret = 'unit-test-secret';
const verifier = new TokenVerifier({ secret });

describe('HS256 tokens', () => {
  test('a valid token yields its identity, ids as strings', async () => {
    const token = await signToken(
      { sub: 'u1', role: 'specialist', specialist_id: 2, workpoint_id: '5', channels: ['room_*'] },
      { secret },
    );
    await expect(verifier.verify(token)).resolves.toMatchObject({
      sub: 'u1',
      role: 'specialist',
      specialistId: '2',
      workpointId: '5',
      channels: ['room_*'],
    });
  });

  test('the optional name claim is kept for presence (cut at 128 characters); a name that is not a string is ignored', async () => {
    await expect(
      verifier.verify(await signToken({ sub: 'u1', name: 'Dr. Ben Okafor' }, { secret })),
    ).resolves.toMatchObject({ name: 'Dr. Ben Okafor' });
    await expect(
      verifier.verify(await signToken({ sub: 'u1', name: 'x'.repeat(300) }, { secret })),
    ).resolves.toMatchObject({ name: 'x'.repeat(128) });
    const odd = await verifier.verify(await signToken({ sub: 'u1', name: { first: 'Ben' } }, { secret }));
    expect(odd).not.toHaveProperty('name');
  });

  test.each([
    ['missing', undefined, /missing/],
    ['empty', '', /missing/],
    ['garbage', 'not-a-jwt', /malformed/],
    ['two parts', 'a.b', /malformed/],
  ])('%s token is rejected', async (_, token, msg) => {
    await expect(verifier.verify(token)).rejects.toThrow(msg);
  });

  test('expired token is rejected as expired', async () => {
    const token = await signToken({ sub: 'u1' }, { secret, expiresInSeconds: -10 });
    await expect(verifier.verify(token)).rejects.toThrow(/^token expired$/);
  });

  test('expiry follows the injected clock', async () => {
    const clock = new TestClock(Date.now());
    const v = new TokenVerifier({ secret, clock });
    const token = await signToken({ sub: 'u1' }, { secret, expiresInSeconds: 60 });
    await expect(v.verify(token)).resolves.toMatchObject({ sub: 'u1' });
    clock.advance(61_000);
    await expect(v.verify(token)).rejects.toThrow('token expired');
  });

  test('wrong key is rejected', async () => {
    const token = await signToken({ sub: 'u1', role: 'admin' }, { secret: 'another-secret' });
    await expect(verifier.verify(token)).rejects.toThrow('bad token signature');
  });

  test('forged claims (payload swapped, signature kept) are rejected', async () => {
    const token = await signToken({ sub: 'u1', role: 'specialist' }, { secret });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'u1', role: 'admin', exp: 4_000_000_000 })).toString('base64url');
    await expect(verifier.verify(`${h}.${forged}.${s}`)).rejects.toThrow('bad token signature');
  });

  test('alg none is rejected', async () => {
    const unsecured = new UnsecuredJWT({ role: 'admin' }).setSubject('u1').setExpirationTime('1h').encode();
    await expect(verifier.verify(unsecured)).rejects.toThrow(/algorithm/);
  });

  test('HS512 is not accepted', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('u')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(secret));
    await expect(verifier.verify(token)).rejects.toThrow(/algorithm HS512/);
  });

  test('sub and exp are required', async () => {
    const key = new TextEncoder().encode(secret);
    const noSub = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(key);
    const noExp = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('u').sign(key);
    await expect(verifier.verify(noSub)).rejects.toThrow(/sub/);
    await expect(verifier.verify(noExp)).rejects.toThrow(/exp/);
  });

  test('malformed claims are rejected', async () => {
    const key = new TextEncoder().encode(secret);
    const bad = await new SignJWT({ channels: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u')
      .setExpirationTime('1h')
      .sign(key);
    await expect(verifier.verify(bad)).rejects.toThrow(TokenError);
    const badPattern = await new SignJWT({ channels: ['ok', 'no spaces'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u')
      .setExpirationTime('1h')
      .sign(key);
    await expect(verifier.verify(badPattern)).rejects.toThrow(/channels claim/);
  });

  test('issuer and audience are checked when configured', async () => {
    const v = new TokenVerifier({ secret, issuer: 'https://issuer', audience: 'switchboard' });
    const key = new TextEncoder().encode(secret);
    const good = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u')
      .setIssuer('https://issuer')
      .setAudience('switchboard')
      .setExpirationTime('1h')
      .sign(key);
    const wrongAud = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u')
      .setIssuer('https://issuer')
      .setAudience('other')
      .setExpirationTime('1h')
      .sign(key);
    await expect(v.verify(good)).resolves.toMatchObject({ sub: 'u' });
    await expect(v.verify(wrongAud)).rejects.toThrow(/aud/);
  });
});

describe('JWKS tokens (RS256 / ES256)', () => {
  test.each(['RS256', 'ES256'] as const)(
    '%s token from the key set is accepted; an unknown key is not',
    async (alg) => {
      const { publicKey, privateKey } = await generateKeyPair(alg);
      const other = await generateKeyPair(alg);
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg };
      const v = new TokenVerifier({ jwks: createLocalJWKSet({ keys: [jwk] }) });
      const token = await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg, kid: 'k1' })
        .setSubject('u9')
        .setExpirationTime('1h')
        .sign(privateKey);
      await expect(v.verify(token)).resolves.toMatchObject({ sub: 'u9', role: 'admin' });
      const forged = await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg, kid: 'k1' })
        .setSubject('u9')
        .setExpirationTime('1h')
        .sign(other.privateKey);
      await expect(v.verify(forged)).rejects.toThrow(TokenError);
    },
  );

  test('an HS256 token is refused when only JWKS is configured (no key confusion)', async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const v = new TokenVerifier({
      jwks: createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }),
    });
    await expect(v.verify(await signToken({ sub: 'u' }, { secret }))).rejects.toThrow(/algorithm HS256/);
  });
});
