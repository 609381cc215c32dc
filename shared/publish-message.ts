import * as z from 'zod/mini';
import { describeIssue } from './validation';
import { isValidChannelName } from './channel-rules';

/**
 * The message backends publish to SNS (protocol §4), validated before anything is written.
 */
export const MAX_CHANNELS_PER_MESSAGE = 20;
export const MAX_DATA_BYTES = 32 * 1024;

const messageSchema = z.object({
  channels: z
    .array(
      z
        .string({ error: 'every channel must be a string' })
        .check(z.refine(isValidChannelName, 'every channel must match ^[A-Za-z0-9_.:-]{1,128}$')),
      {
        error: 'channels must be an array of channel names',
      },
    )
    .check(
      z.minLength(1, 'channels must name at least one channel'),
      z.maxLength(MAX_CHANNELS_PER_MESSAGE, `channels may name at most ${MAX_CHANNELS_PER_MESSAGE} channels`),
    ),
  event: z
    .string({ error: 'event must be a string' })
    .check(z.minLength(1, 'event must not be empty'), z.maxLength(64, 'event must be at most 64 characters')),
  data: z.optional(z.unknown()),
  id: z.optional(
    z
      .string({ error: 'id must be a string' })
      .check(z.minLength(1, 'id must not be empty'), z.maxLength(256, 'id must be at most 256 characters')),
  ),
});

export interface PublishedEvent {
  /** Distinct channels, in the message's own order. */
  channels: string[];
  event: string;
  data: unknown;
  /** The idempotency key: the message's `id`, or the SNS MessageId. */
  id: string;
}

export type PublishParseResult = { ok: true; event: PublishedEvent } | { ok: false; reason: string };

export function parsePublishMessage(message: string, fallbackId: string): PublishParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return { ok: false, reason: 'Message is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, reason: 'Message must be a JSON object' };
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: describeIssue(parsed.error.issues, raw) };
  const m = parsed.data;
  const data = m.data === undefined ? null : m.data;
  const size = Buffer.byteLength(JSON.stringify(data), 'utf8');
  if (size > MAX_DATA_BYTES)
    return { ok: false, reason: `data is ${size} bytes serialized; the limit is ${MAX_DATA_BYTES}` };
  return { ok: true, event: { channels: [...new Set(m.channels)], event: m.event, data, id: m.id ?? fallbackId } };
}
