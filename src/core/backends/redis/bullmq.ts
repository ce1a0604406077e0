/**
 * BullMQ, loaded on first use: commands that never touch a queue (`get`, `invalidate`,
 * `quarantine list`, region stores) do not pay for loading it.
 */
type BullMQ = typeof import('bullmq');

let loading: Promise<BullMQ> | undefined;

export const bullmq = (): Promise<BullMQ> => (loading ??= import('bullmq'));
