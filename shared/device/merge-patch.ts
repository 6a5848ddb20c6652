/**
 * JSON Merge Patch (RFC 7396): objects merge recursively, `null` removes a member, anything else replaces it.
 * Returns a new value; neither input is modified. Keys that could reach a prototype are never written.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    if (value === null) {
      delete result[key];
    } else {
      result[key] = applyMergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value);
    }
  }
  return result;
}
