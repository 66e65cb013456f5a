/**
 * Event and request maps. Declare them as interfaces or type aliases:
 *
 * ```ts
 * interface ServerEvents { "chat.message": { text: string; from: string } }
 * interface ClientEvents { "chat.send": { text: string } }
 * interface ClientRequests { "room.count": { data: undefined; reply: number } }
 * interface ServerRequests { confirm: { data: { question: string }; reply: boolean } }
 * ```
 */

/** Events by name: the value is the type of the event's `data`. */
export type EventMap = object;

/** Requests by name: `{ data, reply }` types of each request. */
export type RequestMap = object;

/** The map used when none is given: any name, any data. */
export type AnyEvents = Record<string, any>;

/** The request map used when none is given: any name, any data, any reply. */
export type AnyRequests = Record<string, { data: any; reply: any }>;

/** The data type of request `K` in map `R`. */
export type RequestData<R, K extends keyof R> = R[K] extends { data: infer D } ? D : unknown;

/** The reply type of request `K` in map `R`. */
export type RequestReply<R, K extends keyof R> = R[K] extends { reply: infer T } ? T : unknown;

/** The data of an error notice (`{"event":"error","data":…}`) from the server. */
export interface ErrorNotice {
  /** The error code, e.g. `unknown_event`, `bad_data`, `bad_json`, `busy`. */
  code: string;
  /** A human-readable message. */
  message: string;
  /** The ID of the failed request, when the server could read one. */
  id?: number;
}

/** The reply of `$join` and `$leave`. */
export interface RoomsReply {
  /** The room joined or left. */
  room: string;
  /** Every room the connection is in after the change. */
  rooms: string[];
}

/** `batch_<name>` events of a batched server event: the data is the array of the individual payloads. */
export type BatchEvents<E> = { [K in keyof E & string as `batch_${K}`]: E[K][] };

/** Everything `on()` can listen to: the server's events, their batches, and error notices. */
export type IncomingEvents<E> = E & BatchEvents<E> & { error: ErrorNotice };

/** The argument list after the event name: the data is optional when its type allows `undefined`. */
export type DataArgs<D, O> = undefined extends D ? [data?: D, options?: O] : [data: D, options?: O];

/** A listener of server events. */
export type Listener<D> = (data: D) => void;

/** A handler of a server request: its return value (or what its promise resolves to) is the reply's data. */
export type RequestHandler<D, R> = (data: D) => R | PromiseLike<R>;

/** The message event of a WebSocket, as far as the client reads it. */
export interface WebSocketMessageEventLike {
  readonly data: unknown;
}

/** The close event of a WebSocket, as far as the client reads it. */
export interface WebSocketCloseEventLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean?: boolean;
}

/**
 * The part of the standard WebSocket that the client uses: the browsers' and Node's global `WebSocket`, and
 * the `ws` package, all fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: WebSocketMessageEventLike) => void) | null;
  onclose: ((event: WebSocketCloseEventLike) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor, e.g. the global `WebSocket` or `ws`'s default export. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
