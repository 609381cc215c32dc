import WebSocket from 'ws';

/**
 * A subscriber that checks the delivery contract as it reads (protocol §3): per channel, live frames
 * must come in seq order (a repeat is allowed only with the id already seen for that seq); a gap is
 * recovered from `GET /events?since=` as the client library does. It survives what faults do to a
 * client: a refused handshake (500 while DynamoDB throttles) is retried, a lost `subscribed` reply
 * is asked for again.
 */
export interface ChannelLog {
  baseline: number;
  /** Highest seq received live. */
  liveMax: number;
  /** seq → event id, live or recovered. */
  ids: Map<number, string>;
  live: number;
  recovered: number;
  repeats: number;
  /** Live frames with a seq below one already received live (never allowed). */
  outOfOrder: string[];
  /** The same seq seen with two ids (never allowed). */
  conflicts: string[];
}

export class CheckingClient {
  readonly channels = new Map<string, ChannelLog>();
  private ws!: WebSocket;
  private pending = new Map<string, (seq: number) => void>();
  private recovering = new Map<string, Promise<void>>();
  private waiters: (() => void)[] = [];

  constructor(private readonly opts: { websocketUrl: string; httpUrl: string; token: string; adminToken: string }) {}

  async open(channels: string[], viaQuery = false): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const q = new URLSearchParams({ token: this.opts.token });
        if (viaQuery) q.set('channels', channels.join(','));
        this.ws = await new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${this.opts.websocketUrl}?${q.toString()}`);
          ws.once('open', () => resolve(ws));
          ws.once(
            'unexpected-response',
            (_req, res) => (ws.terminate(), reject(new Error(`handshake ${res.statusCode}`))),
          );
          ws.once('error', reject);
        });
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
      }
    }
    this.ws.on('message', (d) => this.onFrame(JSON.parse((d as Buffer).toString()) as Record<string, unknown>));
    for (const ch of channels) {
      const log: ChannelLog = {
        baseline: -1,
        liveMax: 0,
        ids: new Map(),
        live: 0,
        recovered: 0,
        repeats: 0,
        outOfOrder: [],
        conflicts: [],
      };
      this.channels.set(ch, log);
      if (viaQuery) {
        // No `subscribed` frame for ?channels=: the baseline is the seq right after the handshake.
        log.baseline = await this.currentSeq(ch);
        log.liveMax = log.baseline;
      } else {
        log.baseline = await this.subscribe(ch);
        log.liveMax = Math.max(log.liveMax, log.baseline);
      }
    }
  }

  private async subscribe(channel: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const seq = await new Promise<number | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 5000);
        this.pending.set(channel, (s) => (clearTimeout(timer), resolve(s)));
        this.ws.send(JSON.stringify({ action: 'subscribe', channel, id: `${channel}:${attempt}` }));
      });
      if (seq !== undefined) return seq;
      if (attempt >= 10) throw new Error(`no subscribed frame for ${channel}`);
    }
  }

  private onFrame(f: Record<string, unknown>): void {
    if (f.type === 'subscribed') this.pending.get(f.channel as string)?.(f.seq as number);
    if (f.type === 'error' && typeof f.id === 'string') {
      // A subscribe refused by an injected throttle: ask again at once.
      const channel = f.id.split(':')[0] as string;
      if (this.pending.has(channel)) this.ws.send(JSON.stringify({ action: 'subscribe', channel, id: `${channel}:r` }));
    }
    if (f.type !== 'event') return;
    for (const [channel, seq] of Object.entries(f.seqs as Record<string, number>)) {
      const log = this.channels.get(channel);
      if (!log || log.baseline < 0 || seq <= log.baseline) continue;
      const known = log.ids.get(seq);
      if (known !== undefined) {
        if (known !== f.id) log.conflicts.push(`${channel}#${seq}: ${known} then ${String(f.id)}`);
        log.repeats++;
        continue;
      }
      if (seq < log.liveMax) log.outOfOrder.push(`${channel}#${seq} after #${log.liveMax}`);
      log.ids.set(seq, f.id as string);
      log.live++;
      if (seq > log.liveMax + 1) void this.recover(channel, log.liveMax);
      log.liveMax = Math.max(log.liveMax, seq);
    }
    this.waiters.splice(0).forEach((w) => w());
  }

  /** Fetches what is missing above `since` from history, as the client library does on a gap. */
  async recover(channel: string, since: number): Promise<void> {
    const key = `${channel}:${since}`;
    const running = this.recovering.get(key);
    if (running) return running;
    const p = (async () => {
      const log = this.channels.get(channel) as ChannelLog;
      const r = await fetch(`${this.opts.httpUrl}/events?channel=${channel}&since=${since}`, {
        headers: { authorization: `Bearer ${this.opts.token}` },
      });
      const body = (await r.json()) as { events: { id: string; seqs: Record<string, number> }[] };
      for (const e of body.events ?? []) {
        const seq = e.seqs[channel] as number;
        const known = log.ids.get(seq);
        if (known !== undefined && known !== e.id)
          log.conflicts.push(`${channel}#${seq}: ${known} then ${e.id} (history)`);
        if (known === undefined) {
          log.ids.set(seq, e.id);
          log.recovered++;
        }
      }
    })();
    this.recovering.set(key, p);
    return p;
  }

  private async currentSeq(channel: string): Promise<number> {
    const r = await fetch(`${this.opts.httpUrl}/version?channels=${channel}`, {
      headers: { authorization: `Bearer ${this.opts.adminToken}` },
    });
    return ((await r.json()) as { versions: Record<string, number> }).versions[channel] ?? 0;
  }

  /** Waits until every channel has reached its final seq live, or `ms` passed; then fills the rest from history. */
  async settle(finals: Record<string, number>, ms: number): Promise<void> {
    const done = () => [...this.channels].every(([c, log]) => log.liveMax >= (finals[c] ?? 0));
    const end = Date.now() + ms;
    while (!done() && Date.now() < end)
      await new Promise<void>((r) => (this.waiters.push(r), setTimeout(r, end - Date.now()).unref()));
    await Promise.all([...this.recovering.values()]);
    for (const [c, log] of this.channels) {
      const missing = Array.from(
        { length: Math.max(0, (finals[c] ?? 0) - log.baseline) },
        (_, i) => log.baseline + 1 + i,
      ).filter((s) => !log.ids.has(s));
      if (missing.length > 0) await this.recover(c, Math.min(...missing) - 1);
    }
  }

  close(): void {
    this.ws?.terminate();
  }
}
