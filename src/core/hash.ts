import { createHash, randomBytes } from 'node:crypto';

/** Stable short hash of a URI for use inside backend keys (URIs never go into keys raw). */
export const hashId = (id: string) => createHash('sha1').update(id).digest('base64url');

/** Random ids for jobs, tokens, quarantine items. Sortable by time prefix. */
export const newId = () => Date.now().toString(36).padStart(9, '0') + randomBytes(6).toString('hex');
