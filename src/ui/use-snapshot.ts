/**
 * The dashboard's polling hook: one snapshot per tick (see `Poller`), the derived model
 * (rates, history, last error) as React state, and `refresh()` to fetch at once.
 */
import { useEffect, useRef, useState } from 'react';
import { Poller } from './poller.js';
import { emptyModel, type Snapshot, type SnapshotModel } from './snapshot.js';

export function useSnapshot(fetch: () => Promise<Snapshot>, intervalMs: number): { model: SnapshotModel; refresh: () => void } {
  const [model, setModel] = useState<SnapshotModel>(emptyModel);
  // The latest fetch function (it depends on the view) without restarting the loop.
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;
  const pollerRef = useRef<Poller | undefined>(undefined);
  useEffect(() => {
    const poller = new Poller({ fetch: () => fetchRef.current(), intervalMs, onChange: setModel });
    pollerRef.current = poller;
    poller.start();
    return () => {
      poller.stop();
      pollerRef.current = undefined;
    };
  }, [intervalMs]);
  const refresh = useRef(() => pollerRef.current?.refresh()).current;
  return { model, refresh };
}
