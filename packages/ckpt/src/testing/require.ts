/**
 * "Require a capability or skip": a test that needs something the machine may lack (a kernel feature, a
 * tool) skips with the reason, unless the capability is listed in `CKPT_REQUIRE` (a comma list, e.g.
 * `uffd-wp,pagemap-scan,crit,chromium`): then its absence FAILS the test. CI sets CKPT_REQUIRE to what its
 * machines have, so a green suite cannot hide the headline feature being skipped.
 *
 * ```
 *  capability   available  listed in CKPT_REQUIRE   result
 *  uffd-wp      yes        -                        the test runs
 *  uffd-wp      no         no                       skipped: "<reason>"
 *  uffd-wp      no         yes                      FAILS: "required capability uffd-wp is missing: <reason>"
 * ```
 * Capability names in use: uffd-wp, pagemap-scan, soft-dirty, crit, chromium, gcc, setpriv, prlimit,
 * o-direct, root, criu.
 *
 * @example
 * test('scan', (t) => { if (requireOrSkip(t, 'pagemap-scan', noScan)) return; ... });
 * test('chain', { skip: skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason()) }, async () => { ... });
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

/**
 * The capabilities `CKPT_REQUIRE` lists.
 *
 * @example
 * requiredCapabilities({ CKPT_REQUIRE: 'uffd-wp, crit' }); // Set { 'uffd-wp', 'crit' }
 */
export function requiredCapabilities(env: NodeJS.ProcessEnv = process.env): Set<string> {
  return new Set(
    (env.CKPT_REQUIRE ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

/** The message of a required capability that is missing. */
function missingMessage(capability: string, reason: string): string {
  return `required capability ${capability} is missing (CKPT_REQUIRE): ${reason}`;
}

/**
 * Inside a test: `reason` says why `capability` is missing (null, undefined, false or '' when it is
 * there). Returns false when the test can go on; skips the test and returns true when the capability is
 * missing; throws (the test fails) when it is missing and required.
 *
 * @example
 * if (requireOrSkip(t, 'setpriv', spawnSync('setpriv', ['--version']).status === 0 ? null : 'setpriv is not installed')) return;
 */
export function requireOrSkip(
  t: { skip(message?: string): void },
  capability: string,
  reason: string | null | undefined | false,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (!reason) return false;
  if (requiredCapabilities(env).has(capability)) assert.fail(missingMessage(capability, reason));
  t.skip(reason);
  return true;
}

const reported = new Set<string>();

/**
 * For a test's `skip` option: false when `capability` is there; else the reason to skip. When the
 * capability is missing and required, the tests that depend on it still skip, and one failing test
 * `required capability X is missing` is added to the file (once per capability).
 *
 * @example
 * const skip = skipUnlessAvailable('uffd-wp', uffdWpUnsupportedReason());
 * test('uffd-wp reports written pages', { skip }, async () => { ... });
 */
export function skipUnlessAvailable(
  capability: string,
  reason: string | null | undefined | false,
  env: NodeJS.ProcessEnv = process.env,
): string | false {
  if (!reason) return false;
  if (requiredCapabilities(env).has(capability) && !reported.has(capability)) {
    reported.add(capability);
    test(`required capability ${capability} is present`, () => {
      assert.fail(missingMessage(capability, reason));
    });
  }
  return reason;
}
