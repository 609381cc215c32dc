export default async function globalTeardown(): Promise<void> {
  const parts = (globalThis as { __switchboardParts?: { stop(): Promise<void> }[] }).__switchboardParts ?? [];
  await Promise.all(parts.map((p) => p.stop()));
}
