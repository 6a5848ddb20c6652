/**
 * A module load (or anything asynchronous) done once and shared by every caller; a rejected load is forgotten, so the
 * next caller tries again. The lazy imports that keep organization mode and relay-managed subscriptions out of a
 * function's cold start go through it (issue 15).
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
