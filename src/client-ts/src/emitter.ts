/** A small typed event emitter: `on`, `once`, `off` and `emit`. */
export class Emitter<M> {
  private readonly listeners = new Map<keyof M, Array<(data: any) => void>>();
  private readonly onListenerError: (error: unknown, event: keyof M) => void;

  /** @param onListenerError Called when a listener throws; the other listeners still run. */
  constructor(onListenerError: (error: unknown, event: keyof M) => void) {
    this.onListenerError = onListenerError;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(event: K, listener: (data: M[K]) => void): () => void {
    const list = this.listeners.get(event);
    if (list) {
      list.push(listener);
    } else {
      this.listeners.set(event, [listener]);
    }
    return () => this.off(event, listener);
  }

  /** Adds a listener that is removed after its first call; returns a function that removes it sooner. */
  once<K extends keyof M>(event: K, listener: (data: M[K]) => void): () => void {
    const wrapper = (data: M[K]): void => {
      this.off(event, wrapper);
      listener(data);
    };
    (wrapper as { original?: unknown }).original = listener;
    return this.on(event, wrapper);
  }

  /** Removes one listener (added with `on` or `once`), or all listeners of the event when none is given. */
  off<K extends keyof M>(event: K, listener?: (data: M[K]) => void): void {
    if (listener === undefined) {
      this.listeners.delete(event);
      return;
    }
    const list = this.listeners.get(event);
    if (!list) {
      return;
    }
    const index = list.findIndex((l) => l === listener || (l as { original?: unknown }).original === listener);
    if (index >= 0) {
      list.splice(index, 1);
    }
    if (list.length === 0) {
      this.listeners.delete(event);
    }
  }

  /** Whether the event has at least one listener. */
  has(event: keyof M): boolean {
    return this.listeners.has(event);
  }

  /**
   * Calls the event's listeners in the order they were added. A listener that throws is reported to the error
   * callback and the others still run. Returns `false` when one threw.
   */
  emit<K extends keyof M>(event: K, data: M[K]): boolean {
    const list = this.listeners.get(event);
    if (!list) {
      return true;
    }
    let ok = true;
    for (const listener of [...list]) {
      try {
        listener(data);
      } catch (error) {
        ok = false;
        this.onListenerError(error, event);
      }
    }
    return ok;
  }
}
