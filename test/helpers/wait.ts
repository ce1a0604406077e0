export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` until true or fail after `timeoutMs` with `what` in the message. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 15_000, everyMs = 20) {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
