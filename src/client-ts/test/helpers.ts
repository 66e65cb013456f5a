import { SocketClient, type Emitter, type EventMap, type RequestMap, type SocketClientOptions, type WebSocketConstructor, type WebSocketLike } from "../dist/index.js";

/** The base URL of the real server started by the xunit test (TypeScriptClientTests), e.g. ws://127.0.0.1:5123. */
export const serverUrl: string = (() => {
  const url = process.env["WS_SERVER_URL"];
  if (!url) {
    throw new Error("WS_SERVER_URL is not set: these tests run against the server started by tests/WebSockets.Tests/TypeScriptClient.");
  }
  return url.replace(/\/$/, "");
})();

let keys = 0;

/** A URL of the test server with a `key` query parameter unique to this test, for the server's per-key records. */
export function endpoint(path = "/ws/ts"): string {
  return `${serverUrl}${path}?key=${encodeURIComponent(`${process.version}-${Date.now()}-${++keys}`)}`;
}

/** How long a test waits for something the server or the network does (real time, a bound, not a sleep). */
export const WAIT_MS = 10000;

/** Settles with `promise`, or rejects when it takes longer than `ms` of real time. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}.`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The next occurrence of a lifecycle or server event, within the wait bound. */
export function next<M, K extends keyof M>(emitter: Emitter<M>, event: K, what = String(event)): Promise<M[K]> {
  let off: () => void = () => {};
  const promise = new Promise<M[K]>((resolve) => {
    off = emitter.once(event, resolve);
  });
  return within(promise, what).finally(off);
}

/** The next server event `event` of a client, within the wait bound. */
export function nextEvent(client: SocketClient<any, any, any, any>, event: string): Promise<any> {
  let listener: (data: unknown) => void = () => {};
  const promise = new Promise<unknown>((resolve) => {
    listener = resolve;
    client.once(event, listener);
  });
  return within(promise, `the server event '${event}'`).finally(() => client.off(event, listener));
}

/** The global WebSocket (Node 22+, or Node 20 with --experimental-websocket). */
export const GlobalWebSocket = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket as WebSocketConstructor;

/** A WebSocket constructor that records the URL of every socket it creates. */
export function recordingWebSocket(): { ctor: WebSocketConstructor; urls: string[] } {
  const urls: string[] = [];
  const ctor = function (this: unknown, url: string, protocols?: string | string[]): WebSocketLike {
    urls.push(url);
    return protocols === undefined ? new GlobalWebSocket(url) : new GlobalWebSocket(url, protocols);
  } as unknown as WebSocketConstructor;
  return { ctor, urls };
}

const clients: Array<SocketClient<any, any, any, any>> = [];

/** A client that `closeAll()` closes after the test. */
export function track<E extends EventMap, C extends EventMap, R extends RequestMap, S extends RequestMap>(
  client: SocketClient<E, C, R, S>,
): SocketClient<E, C, R, S> {
  clients.push(client);
  return client;
}

/** Creates a tracked client for `url`. */
export function client(url: string, options: SocketClientOptions = {}): SocketClient {
  return track(new SocketClient(url, options));
}

/** Closes every tracked client. */
export async function closeAll(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => within(c.close(), "a client to close")));
}

/** Asserts that a promise rejects with a SocketError of the given code, returning the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<{ code: string; message: string; source: string }> {
  try {
    await within(promise, `a rejection with '${code}'`);
  } catch (error) {
    const e = error as { code?: string; message: string; source: string };
    if (e.code !== code) {
      throw new Error(`Expected a SocketError '${code}', got ${String(e.code)}: ${e.message}`);
    }
    return e as { code: string; message: string; source: string };
  }
  throw new Error(`Expected a SocketError '${code}', but the promise resolved.`);
}
