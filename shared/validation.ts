import type { core } from 'zod/mini';

/**
 * Turns the first schema issue into one human sentence naming the field: "channel is required" when
 * the field is absent, else "<field>: <message>". Every schema error message in Switchboard comes
 * from here, so clients and logs read the same wording.
 */
export function describeIssue(issues: readonly core.$ZodIssue[], input: unknown, fallbackField = 'message'): string {
  const issue = issues[0];
  if (!issue) return `${fallbackField} is invalid`;
  const field = issue.path.map(String).join('.') || fallbackField;
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) return `${field} is required`;
  return `${field}: ${issue.message}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}
