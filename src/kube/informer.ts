// A list+watch cache that assumes the watch will fail silently: bookmarks keep the
// resourceVersion fresh, 410 Gone relists, errors restart with capped exponential backoff, a
// stall watchdog restarts a watch that says nothing, and a periodic full relist reconciles
// whatever was missed (it reports deletions it finds as DELETED).

import { ApiError, type KubeClient } from './client.ts';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type InformerEvent = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface InformerOptions {
  readonly path: string;
  readonly query?: Record<string, string>;
  /** Restart a watch that has been silent this long (ms); bookmarks count as activity. */
  readonly stallMs?: number;
  /** Relist everything this often (ms). */
  readonly resyncMs?: number;
  readonly onEvent: (type: InformerEvent, obj: KubeObject) => void;
  readonly onSynced?: () => void;
  readonly log?: (level: 'info' | 'warning', message: string) => void;
}

/**
 * What the cache keeps of an object: everything but metadata.managedFields (server-side apply's
 * bookkeeping, often the largest part of a ServiceUnit with several nodes' entries and never
 * read here), as client-go's informers let a transform drop it.
 */
function trim(o: KubeObject): KubeObject {
  if (o.metadata['managedFields'] !== undefined) delete o.metadata['managedFields'];
  return o;
}

export const keyOf = (o: KubeObject): string => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);

export class Informer {
  readonly cache = new Map<string, KubeObject>();
  synced = false;
  private rv = '';
  private stopped = false;
  private abort: AbortController | undefined;
  private lastActivity = 0;
  private readonly opts: InformerOptions;
  private readonly client: KubeClient;
  private loop: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(client: KubeClient, opts: InformerOptions) {
    this.client = client;
    this.opts = opts;
  }

  start(): void {
    this.loop = this.run();
    this.resyncTimer = setInterval(() => { this.rv = ''; this.abort?.abort(); }, this.opts.resyncMs ?? 300_000);
    this.resyncTimer.unref();
    const stall = this.opts.stallMs ?? 90_000;
    this.stallTimer = setInterval(() => {
      if (this.abort && Date.now() - this.lastActivity > stall) {
        this.opts.log?.('warning', `watch ${this.opts.path} silent for ${stall / 1000} s; restarting it`);
        this.abort.abort();
      }
    }, Math.min(stall, 5000));
    this.stallTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.abort?.abort();
    await this.loop?.catch(() => {});
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const list = await this.client.request<{ metadata: { resourceVersion: string }; items: KubeObject[] }>(this.opts.path, { query: this.opts.query, timeoutMs: 60_000, signal });
    const seen = new Set<string>();
    for (const raw of list.items) {
      const item = trim(raw);
      const k = keyOf(item);
      seen.add(k);
      const prev = this.cache.get(k);
      this.cache.set(k, item);
      if (!prev) this.opts.onEvent('ADDED', item);
      else if (prev.metadata.resourceVersion !== item.metadata.resourceVersion) this.opts.onEvent('MODIFIED', item);
    }
    for (const [k, obj] of this.cache) if (!seen.has(k)) { this.cache.delete(k); this.opts.onEvent('DELETED', obj); }
    this.rv = list.metadata.resourceVersion;
    if (!this.synced) { this.synced = true; this.opts.onSynced?.(); }
  }

  private async run(): Promise<void> {
    let backoff = 200;
    while (!this.stopped) {
      // one controller per round, made before the list: stop() aborts a list as well as a watch
      const abort = this.abort = new AbortController();
      this.lastActivity = Date.now();
      try {
        if (!this.rv) await this.relist(abort.signal);
        if (this.stopped) return;
        this.lastActivity = Date.now();
        await this.client.watchStream(this.opts.path, { ...this.opts.query, resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds: 240 }, (ev) => {
          this.lastActivity = Date.now();
          const obj = trim(ev.object as KubeObject);
          if (ev.type === 'BOOKMARK') { this.rv = obj.metadata.resourceVersion ?? this.rv; return; }
          if (ev.type === 'ERROR') {
            const code = (ev.object as { code?: number }).code;
            if (code === 410) { this.rv = ''; }
            throw new ApiError(code ?? 500, 'WatchError', `watch error ${code}: ${(ev.object as { message?: string }).message ?? ''}`, ev.object);
          }
          this.rv = obj.metadata.resourceVersion ?? this.rv;
          const k = keyOf(obj);
          if (ev.type === 'DELETED') { this.cache.delete(k); this.opts.onEvent('DELETED', obj); return; }
          const had = this.cache.has(k);
          this.cache.set(k, obj);
          this.opts.onEvent(had ? 'MODIFIED' : 'ADDED', obj);
        }, abort.signal);
        backoff = 200;
      } catch (e) {
        if (this.stopped) return;
        if (abort.signal.aborted) continue; // a resync or a stalled watch restarts the round
        if (e instanceof ApiError && e.status === 410) { this.rv = ''; continue; }
        this.client.stats.watchRestarts++;
        this.client.observer?.watchRestart(this.opts.path);
        this.opts.log?.('warning', `watch ${this.opts.path} failed: ${(e as Error).message}; retrying in ${backoff} ms`);
        await new Promise((r) => setTimeout(r, backoff * (0.8 + Math.random() * 0.4)));
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }
}
