/**
 * Performs the reducer's effect descriptions that call the engine (pause, resume,
 * replay) and turns each outcome into an `effect-done` action for the status line.
 * `refresh` and `quit` belong to the App (the poller and Ink's exit).
 */
import type { Action, Effect } from './reducer.js';
import { errorMessage, type TopSource } from './snapshot.js';

export type EngineEffect = Extract<Effect, { type: 'pause' | 'resume' | 'replay' }>;

export const isEngineEffect = (e: Effect): e is EngineEffect => e.type === 'pause' || e.type === 'resume' || e.type === 'replay';

export async function runEffect(source: TopSource, effect: EngineEffect): Promise<Extract<Action, { type: 'effect-done' }>> {
  try {
    switch (effect.type) {
      case 'pause':
        await source.pause(effect.op);
        return { type: 'effect-done', effect, ok: true, text: `paused ${effect.op}: workers take no new jobs of it (p resumes)` };
      case 'resume':
        await source.resume(effect.op);
        return { type: 'effect-done', effect, ok: true, text: `resumed ${effect.op}` };
      case 'replay': {
        const n = await source.replay(effect.op);
        return { type: 'effect-done', effect, ok: true, text: `replayed ${n} quarantined ${effect.op} request${n === 1 ? '' : 's'}` };
      }
    }
  } catch (e) {
    return { type: 'effect-done', effect, ok: false, text: `${effect.type} ${effect.op} failed: ${errorMessage(e)}` };
  }
}
