import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startRuntimeProcess, type RuntimeProcess } from '../../e2e/support/runtime-process';

/** Debian's Chromium, headless (playwright gives each launch a fresh profile), with the flags this closed network needs (no background traffic). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH))
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (bash .ci/run does this)`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface BrowserFile {
  /** The local runtime (set before the file's first test). */
  rt: RuntimeProcess;
  browser: Browser;
}

/** The local runtime and a headless Chromium for a whole test file: started together in beforeAll, closed in afterAll. */
export function runtimeAndChromiumForFile(): BrowserFile {
  const file = {} as BrowserFile; // filled in by beforeAll, before any test reads it
  beforeAll(async () => {
    [file.rt, file.browser] = await Promise.all([startRuntimeProcess(), launchChromium()]);
  });
  afterAll(async () => {
    await file.browser?.close();
    await file.rt?.stop();
  });
  return file;
}
