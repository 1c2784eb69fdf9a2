/**
 * Where a dump's pages go, and the one way to open a session there: a directory and a page server alike.
 * The dump's owner (dump/'s ImageSet) opens the session before anything is frozen and closes it after the
 * last task; nobody else chooses keepOpen or remembers to close.
 *
 * ```
 * PageTarget --openPageSession(target, dir)--> PageSink (one session: every task of the dump)
 *   'images'       LocalSink over the dump's image directory (pagemap-PID.img, pages-N.img)
 *   'page-server'  PageServerClient, connected now, one OPEN2 per task, CLOSE at close()
 *   'discard'      NullSink (counts only: --dry-run, benchmarks)
 * session.close() after the last task (required, safe twice); session.abort(reason) on failure
 * ```
 *
 * @example
 * const session = await openPageSession({ kind: 'page-server', address: '10.0.0.2', port: 27000 });
 * await session.begin(pid); ...; await session.end();
 * await session.close();
 */
import type { ImageDir } from '../images/index.js';
import { LocalSink, type LocalSinkOptions } from './local.js';
import { NullSink } from './null.js';
import { type PageClientOptions, PageServerClient } from './page-client.js';
import type { PageSink } from './sink.js';

/** A page server to send pages to (the client's options, less the session's: it is kept open). */
export interface PageServerTarget extends Omit<PageClientOptions, 'keepOpen'> {
  readonly kind: 'page-server';
}

/**
 * Where the pages of a dump go.
 *
 * @example
 * const t: PageTarget = dryRun ? { kind: 'discard' } : { kind: 'images' };
 */
export type PageTarget =
  | ({ readonly kind: 'images' } & LocalSinkOptions)
  | { readonly kind: 'discard' }
  | PageServerTarget
  | SessionTarget;

/**
 * A session the caller opens (a migration's page stream over its own connection): `open` is called once
 * per dump, when the pipeline would connect; the returned sink is the session (close() after the last task).
 */
export interface SessionTarget {
  readonly kind: 'session';
  readonly open: () => Promise<PageSink>;
}

/**
 * Open one session at `target` for a whole dump. 'images' needs the dump's image directory `dir`.
 * Throws WireError (page server unreachable, TLS) or Error for a missing `dir` (a bug of the caller).
 */
export async function openPageSession(target: PageTarget, dir?: ImageDir): Promise<PageSink> {
  switch (target.kind) {
    case 'images': {
      if (!dir) throw new Error('openPageSession: an images target needs the image directory');
      const { kind: _k, ...opts } = target;
      return new LocalSink(dir, opts);
    }
    case 'discard':
      return new NullSink();
    case 'page-server': {
      const { kind: _k, ...opts } = target;
      return PageServerClient.connect({ ...opts, keepOpen: true });
    }
    case 'session':
      return target.open();
  }
}
