import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { ManagementApiPoster, classifyPostError, managementClient } from '../../shared/management-api';
import { LeanPoster, Sha256 } from '../../shared/lean-poster';

/**
 * The lean poster against a real HTTP server: it sends what the SDK's PostToConnection sends (path,
 * body), signs exactly what goes on the wire (a server recomputing SigV4 from the received request
 * gets the same signature), and its errors classify like the SDK's (410, 429, 5xx, timeouts).
 */
interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
let server: http.Server;
let endpoint: string;
const seen: Seen[] = [];
let answer: (res: http.ServerResponse) => void = (res) => res.writeHead(200).end();
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      answer(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const credentials = async () => ({
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
});
const lean = () => new LeanPoster({ endpoint, region: 'eu-west-1', credentials, maxSockets: 4, timeoutMs: 300 });

test('the same path and body as the SDK, and a signature that matches what was sent', async () => {
  const id = 'Lr0GWcmQIAMCJwQ=';
  seen.length = 0;
  await new ManagementApiPoster(managementClient(endpoint, 4, 1000)).post(id, '{"type":"event"}');
  await lean().post(id, '{"type":"event"}');
  const [sdk, ours] = seen as [Seen, Seen];
  expect(ours.path).toBe(sdk.path);
  expect(ours.body).toBe(sdk.body);
  expect(ours.method).toBe('POST');
  // Recompute the signature from the request as received, with the secret: it must match.
  const auth = String(ours.headers.authorization);
  const signedHeaders = (auth.match(/SignedHeaders=([^,]+)/)?.[1] ?? '').split(';');
  expect(signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date']));
  expect(auth).toContain('/eu-west-1/execute-api/aws4_request');
  const amzDate = String(ours.headers['x-amz-date']);
  const date = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials, sha256: Sha256 });
  const headers = Object.fromEntries(signedHeaders.map((h) => [h, String(ours.headers[h])]));
  const again = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: '127.0.0.1', path: ours.path, query: {}, headers, body: ours.body },
    { signingDate: date },
  );
  expect(again.headers.authorization).toBe(auth);
});

test('errors classify as the SDK\u2019s do: 410 gone, 429 throttled, 500 server, no answer a timeout', async () => {
  const cases: [number, string, string][] = [
    [410, 'GoneException', 'gone'],
    [429, 'LimitExceededException', 'throttled'],
    [500, 'InternalServerErrorException', 'server'],
    [403, 'ForbiddenException', 'client'],
  ];
  for (const [status, type, kind] of cases) {
    answer = (res) =>
      res
        .writeHead(status, { 'x-amzn-errortype': type, 'content-type': 'application/json' })
        .end(JSON.stringify({ message: type }));
    const err = await lean()
      .post('c1', 'x')
      .catch((e: unknown) => e);
    const sdkErr = await new ManagementApiPoster(managementClient(endpoint, 4, 1000))
      .post('c1', 'x')
      .catch((e: unknown) => e);
    expect({ status, lean: classifyPostError(err), sdk: classifyPostError(sdkErr) }).toEqual({
      status,
      lean: kind,
      sdk: kind,
    });
    expect((err as Error).name).toBe(type);
  }
  answer = () => undefined; // never answers
  const err = await lean()
    .post('c1', 'x')
    .catch((e: unknown) => e);
  expect(classifyPostError(err)).toBe('network');
  answer = (res) => res.writeHead(200).end();
});
