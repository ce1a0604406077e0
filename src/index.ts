/** The public library API of backache. */
export { createBackache, Backache } from './core/engine.js';
export type { BackacheOptions, GetOrDelegateOptions, GetOrDelegateResult, BulkOptions, InvalidateOptions, InvalidateResult, WarmRequest, WorkerHandle, StartWorkerOptions } from './core/engine.js';
export type { Request, Hit, Delegated, BulkResult, RequestError } from './core/delegate.js';
export { defineOperations } from './core/operations.js';
export type { OperationsDef, OperationDef, OperationSpec, OperationContext, ResultInfo, Logger } from './core/operations.js';
export { createRegion, Region, ProxyStore, sha1KeyMangler } from './core/region.js';
export type { RegionOptions, CachedFunction } from './core/region.js';
export { L1Cache } from './core/l1.js';
export type { L1Options, L1Stats, L1Lookup } from './core/l1.js';
export { registerStore, openBackend } from './core/backends/index.js';
export type { StoreDriver, BackendOptions } from './core/backends/index.js';
export * from './core/errors.js';
export type * from './core/ports.js';
export type { Stats, OpStats } from './core/stats.js';
export type { QuarantineSelector } from './core/quarantine-api.js';
export type { DrainOptions, DrainResult } from './core/drain.js';
export { toMs } from './core/duration.js';
export type { Duration } from './core/duration.js';
