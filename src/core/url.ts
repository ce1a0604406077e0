/** A URL with its password replaced by `***`, safe to print in errors, logs and stats. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_m, scheme: string, auth: string) => {
    const i = auth.indexOf(':');
    return i < 0 ? `${scheme}${auth}@` : `${scheme}${auth.slice(0, i)}:***@`;
  });
}

/** Mask every URL-with-credentials found inside a free text (error messages). */
export function maskText(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^@/\s:]*):([^@/\s]*)@/gi, '$1$2:***@');
}

export const schemeOf = (url: string) => {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return m ? m[1]!.toLowerCase() : '';
};
