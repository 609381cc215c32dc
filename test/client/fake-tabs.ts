import type { ChannelLike, LocksLike } from '../../client/src';

/**
 * One browser's Web Locks and BroadcastChannels, shared by fake tabs in one jest process. Each tab
 * gets its own `locks` and `BroadcastChannel` (what `share.locks` / `share.BroadcastChannel` take).
 * Everything the browser hands to a tab (messages, lock grants, a stolen lock's rejection) goes
 * through the tab's queue, so a frozen tab gets it only when it thaws, as Chrome does; a crashed tab
 * gets nothing more and its locks are released. Messages are cloned (JSON) like structured clone.
 */
export class FakeBrowser {
  private readonly held = new Map<string, LockRequest>();
  private readonly queues = new Map<string, LockRequest[]>();
  readonly channels = new Set<FakeChannel>();
  /** Lock requests granted by stealing (a follower that found the leader silent). */
  steals = 0;
  /** Delay of every message between tabs (another process in a real browser); 0: the next microtask. */
  latencyMs = 0;
  private nextTab = 1;

  tab(): FakeTab {
    return new FakeTab(this, `client-${this.nextTab++}`);
  }

  /** Names of the locks held, with the tab holding each. */
  holders(): Record<string, string> {
    return Object.fromEntries([...this.held].map(([name, r]) => [name, r.tab.clientId]));
  }

  request(
    tab: FakeTab,
    name: string,
    options: { signal?: AbortSignal; steal?: boolean; ifAvailable?: boolean },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (tab.crashed) return;
      if (options.signal?.aborted) return tab.run(() => reject(abortError()));
      const req: LockRequest = { tab, name, callback, resolve, reject };
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      if (options.steal) {
        this.steals++;
        const holder = this.held.get(name);
        this.held.delete(name);
        if (holder) holder.tab.run(() => holder.reject(abortError()));
        return this.grant(req);
      }
      if (this.held.has(name) || queue.length > 0) {
        if (options.ifAvailable) return tab.run(() => settle(req, () => callback(null)));
        queue.push(req);
        options.signal?.addEventListener('abort', () => {
          const i = queue.indexOf(req);
          if (i < 0) return;
          queue.splice(i, 1);
          tab.run(() => reject(abortError()));
        });
        return;
      }
      this.grant(req);
    });
  }

  /** The tab's process is gone: its locks are released, its queued requests dropped, nothing reaches it again. */
  crash(tab: FakeTab): void {
    for (const [name, queue] of this.queues)
      this.queues.set(
        name,
        queue.filter((r) => r.tab !== tab),
      );
    for (const [name, r] of [...this.held]) if (r.tab === tab) this.release(name, r);
    for (const ch of [...this.channels]) if (ch.tab === tab) this.channels.delete(ch);
  }

  private grant(req: LockRequest): void {
    this.held.set(req.name, req);
    req.tab.run(() => {
      if (this.held.get(req.name) !== req) return; // stolen before the tab got to it
      settle(
        req,
        () => req.callback({ name: req.name }),
        () => this.release(req.name, req),
      );
    });
  }

  private release(name: string, req: LockRequest): void {
    if (this.held.get(name) !== req) return;
    this.held.delete(name);
    const next = this.queues.get(name)?.shift();
    if (next) this.grant(next);
  }
}

interface LockRequest {
  tab: FakeTab;
  name: string;
  callback: (lock: unknown) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Runs the lock callback; its promise settles the request once the callback's result settles (the lock is released then). */
function settle(req: LockRequest, run: () => unknown, released: () => void = () => undefined): void {
  let result: unknown;
  try {
    result = run();
  } catch (err) {
    released();
    return req.reject(err);
  }
  Promise.resolve(result).then(
    (v) => (released(), req.resolve(v)),
    (e) => (released(), req.reject(e)),
  );
}

const abortError = (): Error => new DOMException('The request was aborted.', 'AbortError');

export class FakeTab {
  frozen = false;
  crashed = false;
  /** While frozen: drop messages instead of queueing them (a page the browser put away). */
  dropping = false;
  private readonly queue: (() => void)[] = [];
  readonly locks: LocksLike;
  readonly BroadcastChannel: new (name: string) => ChannelLike;

  constructor(
    readonly browser: FakeBrowser,
    readonly clientId: string,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class expression below has its own `this`
    const tab = this;
    this.locks = {
      request: (name, options, callback) => browser.request(tab, name, options, callback) as Promise<never>,
    };
    this.BroadcastChannel = class extends FakeChannel {
      constructor(name: string) {
        super(tab, name);
      }
    };
  }

  /** Something the browser hands to this tab: later (a task), or when it thaws. */
  run(fn: () => void, message = false): void {
    if (this.crashed || (this.frozen && message && this.dropping)) return;
    if (this.frozen) this.queue.push(fn);
    else void Promise.resolve().then(() => (this.crashed ? undefined : fn()));
  }

  freeze({ dropMessages = false } = {}): void {
    this.frozen = true;
    this.dropping = dropMessages;
  }

  thaw(): void {
    this.frozen = false;
    for (const fn of this.queue.splice(0)) this.run(fn);
  }

  crash(): void {
    this.crashed = true;
    this.browser.crash(this);
  }
}

export class FakeChannel implements ChannelLike {
  onmessage: ((event: { data: unknown }) => void) | null = null;
  /** Every message this tab posted, for assertions. */
  readonly posted: Record<string, unknown>[] = [];

  constructor(
    readonly tab: FakeTab,
    readonly name: string,
  ) {
    tab.browser.channels.add(this);
  }

  postMessage(message: unknown): void {
    const data = JSON.stringify(message);
    this.posted.push(JSON.parse(data) as Record<string, unknown>);
    if (this.tab.crashed) return;
    for (const ch of this.tab.browser.channels) {
      if (ch === this || ch.name !== this.name) continue;
      const deliver = (): void => ch.tab.run(() => ch.onmessage?.({ data: JSON.parse(data) }), true);
      if (this.tab.browser.latencyMs > 0) setTimeout(deliver, this.tab.browser.latencyMs);
      else deliver();
    }
  }

  close(): void {
    this.tab.browser.channels.delete(this);
  }
}
