/**
 * Performs the reducer's effect descriptions that call the engine (pause, resume,
 * count-replay, replay) and turns each outcome into an action: `replay-ready` with the ids
 * the y/n question counts, `effect-done` for the status line. `refresh` and `quit` belong
 * to the App (the poller and Ink's exit).
 */
import type { Action, Effect } from './reducer.js';
import { errorMessage, type TopSource } from './snapshot.js';

export type EngineEffect = Extract<Effect, { type: 'pause' | 'resume' | 'count-replay' | 'replay' }>;

export const isEngineEffect = (e: Effect): e is EngineEffect => e.type === 'pause' || e.type === 'resume' || e.type === 'count-replay' || e.type === 'replay';

const requests = (n: number) => `request${n === 1 ? '' : 's'}`;

export async function runEffect(source: TopSource, effect: EngineEffect): Promise<Action> {
  try {
    switch (effect.type) {
      case 'pause':
        await source.pause(effect.op);
        return { type: 'effect-done', effect, ok: true, text: `paused ${effect.op}: workers take no new jobs of it (p resumes)` };
      case 'resume':
        await source.resume(effect.op);
        return { type: 'effect-done', effect, ok: true, text: `resumed ${effect.op}` };
      case 'count-replay':
        return { type: 'replay-ready', op: effect.op, ids: await source.quarantineIds(effect.op) };
      case 'replay': {
        const asked = effect.ids.length;
        const n = await source.replay(effect.ids);
        const text =
          n === asked
            ? `replayed ${n} quarantined ${effect.op} ${requests(n)}`
            : `replayed ${n} of ${asked} quarantined ${effect.op} ${requests(asked)} (${asked - n} no longer in quarantine)`;
        return { type: 'effect-done', effect, ok: true, text, replayed: n };
      }
    }
  } catch (e) {
    const what = effect.type === 'count-replay' ? 'listing the quarantine of' : effect.type;
    return { type: 'effect-done', effect, ok: false, text: `${what} ${effect.op} failed: ${errorMessage(e)}` };
  }
}
