export { SocketClient } from "./client.js";
export type {
  ConnectionState,
  DropReason,
  DroppedMessage,
  EmitOptions,
  LifecycleEvents,
  RequestOptions,
  SocketClientOptions,
} from "./client.js";
export { SocketError } from "./errors.js";
export type { ClientErrorCode } from "./errors.js";
export { ManualClock, systemClock } from "./clock.js";
export type { Clock, TimerHandle } from "./clock.js";
export { retryDelay } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { Emitter } from "./emitter.js";
export type {
  AnyEvents,
  AnyRequests,
  BatchEvents,
  DataArgs,
  ErrorNotice,
  EventMap,
  IncomingEvents,
  Listener,
  RequestData,
  RequestHandler,
  RequestMap,
  RequestReply,
  RoomsReply,
  WebSocketCloseEventLike,
  WebSocketConstructor,
  WebSocketLike,
  WebSocketMessageEventLike,
} from "./types.js";
