export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __switchboardDdb?: { stop(): Promise<void> } }).__switchboardDdb?.stop();
}
