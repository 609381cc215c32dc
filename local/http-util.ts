import type http from 'node:http';

/** Small pieces both local HTTP servers (the HTTP API and the management API) use. */

/** The request body, or undefined when it exceeds `limit` bytes (the rest is read and dropped). */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `s` percent-decoded, or `s` as it is when it is not valid percent-encoding. */
export function safeDecode(s: string, decode: (s: string) => string = decodeURIComponent): string {
  try {
    return decode(s);
  } catch {
    return s;
  }
}
