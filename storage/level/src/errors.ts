// Maps classic-level / LevelDB failures to StoreError codes, so the core can tell a full disk
// (507) from an unreachable one (503) from damaged data (refuse to serve).
import { closedError, StoreError } from '@twinhub/bucket';

/** The error and its causes, outermost first (abstract-level wraps open failures). */
function chain(error: unknown): { code?: string; message: string }[] {
  const out: { code?: string; message: string }[] = [];
  for (let e: unknown = error; e !== undefined && e !== null && out.length < 5; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    out.push({ ...(typeof code === 'string' ? { code } : {}), message: e instanceof Error ? e.message : String(e) });
  }
  return out;
}

/** True when another process holds the folder's LevelDB lock. */
export function isLockHeld(error: unknown): boolean {
  return chain(error).some((c) => c.code === 'LEVEL_LOCKED');
}

/** How to get out of a 'corrupt' state; the same advice wherever the damage is found. */
export function repairAdvice(dir: string): string {
  return `stop every hub using it, back the folder up, then run \`twinhub repair --data ${dir}\` (it salvages what LevelDB can still read; some data may be lost) or restore a backup`;
}

/** Turns a classic-level error met while `doing` something into a StoreError with a stable code. */
export function toStoreError(error: unknown, doing: string, dir: string): StoreError {
  if (error instanceof StoreError) return error;
  const causes = chain(error);
  const innermost = causes[causes.length - 1];
  const detail = innermost?.message ?? String(error);
  const any = (test: (c: { code?: string; message: string }) => boolean): boolean => causes.some(test);
  if (any((c) => c.code === 'ENOSPC' || /no space left/i.test(c.message))) {
    return new StoreError(`the disk holding the data folder ${dir} is full (while ${doing}): free some space, then retry`, { code: 'full', cause: error });
  }
  if (any((c) => c.code === 'LEVEL_CORRUPTION' || /corrupt/i.test(c.message))) {
    return new StoreError(`the data in ${dir} is damaged (while ${doing}: ${detail}): ${repairAdvice(dir)}`, { code: 'corrupt', cause: error });
  }
  if (isLockHeld(error)) {
    return new StoreError(`the data folder ${dir} is in use by another twinhub (its LevelDB lock is held); stop that hub or choose another data folder`, {
      code: 'unavailable',
      cause: error,
    });
  }
  // Open failures come wrapped in LEVEL_DATABASE_NOT_OPEN too, with the reason as the cause.
  if (causes.length === 1 && (innermost.code === 'LEVEL_DATABASE_NOT_OPEN' || innermost.code === 'LEVEL_ITERATOR_NOT_OPEN')) {
    return closedError();
  }
  const what = doing === 'opening' ? `cannot open the data folder ${dir}: ${detail}` : `storage in ${dir} failed while ${doing}: ${detail}`;
  return new StoreError(`${what}; check that the folder is readable and writable and the disk is healthy`, { code: 'unavailable', cause: error });
}
