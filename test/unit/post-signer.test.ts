import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../shared/lean-poster';
import { canonicalPath, PostSigner } from '../../shared/post-signer';

/** The lean poster's SigV4 (shared/post-signer.ts) against @smithy/signature-v4, header for header. */
const ids = ['Lr0GWcmQIAMCJwQ=', 'abc+/def==', 'plain', "it's(*)!~", 'ünï', 'a.b..c'];
const date = new Date('2026-11-29T14:50:07.123Z');

test.each([
  [
    'without a session token',
    { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  ],
  [
    'with a session token (Lambda)',
    { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'IQoJb3JpZ2luX2VjE//token+with=chars' },
  ],
])('signs every post exactly as @smithy/signature-v4 does, %s', async (_, credentials) => {
  const smithy = new SignatureV4({
    service: 'execute-api',
    region: 'eu-west-1',
    credentials: async () => credentials,
    sha256: Sha256,
  });
  const ours = new PostSigner('eu-west-1');
  const host = 'abc123.execute-api.eu-west-1.amazonaws.com';
  for (const base of ['/prod', '', '/my stage']) {
    for (const id of ids) {
      const path = `${base}/@connections/${encodeURIComponent(id)}`;
      const body = Buffer.from(JSON.stringify({ type: 'event', id, data: { x: 'é' } }), 'utf8');
      const expected = await smithy.sign(
        {
          method: 'POST',
          protocol: 'https:',
          hostname: host,
          path,
          query: {},
          headers: { host, 'content-type': 'application/json', 'content-length': String(body.length) },
          body,
        },
        { signingDate: date },
      );
      expect({ path, headers: ours.sign(credentials, host, path, body, date) }).toEqual({
        path,
        headers: expected.headers,
      });
    }
  }
});

test('the canonical path is escaped twice, as the SDK does for every service but S3', () => {
  expect(canonicalPath('/prod/@connections/abc%3D')).toBe('/prod/%40connections/abc%253D');
  expect(canonicalPath('/a/./b/../c/')).toBe('/a/c/');
});
