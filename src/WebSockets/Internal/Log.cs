using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace WebSockets.Internal;

// Event IDs are stable and never reused: registry 1-19, connection 20-49, handler 50-59, endpoint 60-79,
// event dispatcher 80-99 (EventDispatcher.cs), limits 100-119 (LimitsLog.cs), hardening 120-139, authentication
// 140-159, observability 160-179, admin endpoint 180-189 (SocketAdminEndpoints.cs).

internal sealed partial class SocketRegistry
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Connection {ConnectionId} joined namespace '{Namespace}' (sub-protocol: {SubProtocol}).", EventName = "Connected")]
        public static partial void Connected(ILogger logger, string connectionId, string @namespace, string? subProtocol);

        [LoggerMessage(2, LogLevel.Debug, "Connection {ConnectionId} left namespace '{Namespace}': {Reason}, close status {CloseStatus}.", EventName = "Disconnected")]
        public static partial void Disconnected(ILogger logger, string connectionId, string @namespace, DisconnectReason reason, WebSocketCloseStatus? closeStatus);

        [LoggerMessage(3, LogLevel.Debug, "Accepting connection {ConnectionId} failed or timed out.", EventName = "AcceptFailed")]
        public static partial void AcceptFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(4, LogLevel.Error, "A connect hook of namespace '{Namespace}' failed for connection {ConnectionId}; closing it.", EventName = "ConnectedHookFailed")]
        public static partial void ConnectedHookFailed(ILogger logger, string connectionId, string @namespace, Exception exception);

        [LoggerMessage(5, LogLevel.Error, "The connect hooks of namespace '{Namespace}' did not finish within the handshake timeout for connection {ConnectionId}; closing it.", EventName = "ConnectedHookTimedOut")]
        public static partial void ConnectedHookTimedOut(ILogger logger, string connectionId, string @namespace, Exception? exception);

        [LoggerMessage(6, LogLevel.Error, "A disconnect hook of namespace '{Namespace}' failed for connection {ConnectionId}.", EventName = "DisconnectedHookFailed")]
        public static partial void DisconnectedHookFailed(ILogger logger, string connectionId, string @namespace, Exception exception);

        [LoggerMessage(7, LogLevel.Information, "Shutting down: draining {Count} WebSocket connections within {DrainTimeout}.", EventName = "Draining")]
        public static partial void Draining(ILogger logger, int count, TimeSpan drainTimeout);

        [LoggerMessage(8, LogLevel.Warning, "The host's shutdown timeout expired with {Count} WebSocket connections still closing.", EventName = "DrainIncomplete")]
        public static partial void DrainIncomplete(ILogger logger, int count);

        [LoggerMessage(9, LogLevel.Debug, "Connection {ConnectionId} joined room '{Room}'.", EventName = "RoomJoined")]
        public static partial void RoomJoined(ILogger logger, string connectionId, string room);

        [LoggerMessage(10, LogLevel.Debug, "Connection {ConnectionId} left room '{Room}'.", EventName = "RoomLeft")]
        public static partial void RoomLeft(ILogger logger, string connectionId, string room);

        [LoggerMessage(11, LogLevel.Warning, "Public session item '{Key}' of connection {ConnectionId} can't be serialized as JSON; presence leaves it out.", EventName = "PublicItemNotSerializable")]
        public static partial void PublicItemNotSerializable(ILogger logger, string key, string connectionId, Exception exception);

        [LoggerMessage(12, LogLevel.Warning, "The backplane failed to record the presence of connection {ConnectionId}.", EventName = "PresenceFailed")]
        public static partial void PresenceFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(13, LogLevel.Warning, "The backplane failed to publish a message; only this server's connections got it.", EventName = "PublishFailed")]
        public static partial void PublishFailed(ILogger logger, Exception exception);

        [LoggerMessage(14, LogLevel.Warning, "Dropped a {Length}-byte message from the backplane that this version can't read.", EventName = "BadClusterMessage")]
        public static partial void BadClusterMessage(ILogger logger, int length);

        [LoggerMessage(15, LogLevel.Warning, "A cluster query did not get every server's part in time; the answer is incomplete.", EventName = "QueryIncomplete")]
        public static partial void QueryIncomplete(ILogger logger, Exception exception);

        [LoggerMessage(16, LogLevel.Error, "Delivering a message from the backplane failed.", EventName = "DeliverFailed")]
        public static partial void DeliverFailed(ILogger logger, Exception exception);

        [LoggerMessage(161, LogLevel.Debug, "A connect hook of namespace '{Namespace}' was canceled: connection {ConnectionId} ended while it ran.", EventName = "ConnectedHookCanceled")]
        public static partial void ConnectedHookCanceled(ILogger logger, string connectionId, string @namespace);
    }
}

internal sealed partial class SocketConnection
{
    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Debug, "Connection {ConnectionId} dropped a message: its send queue is full ({Mode}).", EventName = "MessageDropped")]
        public static partial void MessageDropped(ILogger logger, string connectionId, SendQueueFullMode mode);

        [LoggerMessage(21, LogLevel.Warning, "Connection {ConnectionId} is closed as a slow consumer: its send queue of {Capacity} messages is full.", EventName = "SlowConsumer")]
        public static partial void SlowConsumer(ILogger logger, string connectionId, int capacity);

        [LoggerMessage(22, LogLevel.Debug, "Connection {ConnectionId} did not finish closing within {CloseTimeout}; aborting it.", EventName = "CloseTimedOut")]
        public static partial void CloseTimedOut(ILogger logger, string connectionId, TimeSpan closeTimeout);

        [LoggerMessage(23, LogLevel.Debug, "Connection {ConnectionId} closed prematurely.", EventName = "ConnectionLost")]
        public static partial void ConnectionLost(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(24, LogLevel.Debug, "Sending to connection {ConnectionId} failed.", EventName = "SendFailed")]
        public static partial void SendFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(25, LogLevel.Error, "The write pump of connection {ConnectionId} failed.", EventName = "WritePumpFailed")]
        public static partial void WritePumpFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(26, LogLevel.Error, "The read pump of connection {ConnectionId} failed.", EventName = "ReadPumpFailed")]
        public static partial void ReadPumpFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(27, LogLevel.Debug, "Connection {ConnectionId} sent a message larger than {MaxMessageSize} bytes; closing it with 1009.", EventName = "MessageTooBig")]
        public static partial void MessageTooBig(ILogger logger, string connectionId, int maxMessageSize);

        [LoggerMessage(28, LogLevel.Debug, "Connection {ConnectionId} sent nothing for {IdleTimeout}; closing it.", EventName = "IdleTimeout")]
        public static partial void IdleTimeout(ILogger logger, string connectionId, TimeSpan idleTimeout);

        [LoggerMessage(140, LogLevel.Information, "The authentication of connection {ConnectionId} expired at {ExpiresAt:O}; closing it.", EventName = "AuthenticationExpired")]
        public static partial void AuthenticationExpired(ILogger logger, string connectionId, DateTimeOffset expiresAt);

        [LoggerMessage(141, LogLevel.Debug, "Connection {ConnectionId} refreshed its token; its authentication now expires at {ExpiresAt:O}.", EventName = "TokenRefreshed")]
        public static partial void TokenRefreshed(ILogger logger, string connectionId, DateTimeOffset? expiresAt);

        [LoggerMessage(142, LogLevel.Information, "A token refresh of connection {ConnectionId} was refused.", EventName = "TokenRefreshRefused")]
        public static partial void TokenRefreshRefused(ILogger logger, string connectionId);

        [LoggerMessage(143, LogLevel.Error, "A token refresh of connection {ConnectionId} could not be checked: set WebSocketEndpointOptions.TokenRefreshScheme or a default authenticate scheme.", EventName = "TokenRefreshFailed")]
        public static partial void TokenRefreshFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(29, LogLevel.Error, "A callback registered on the ConnectionClosed token of connection {ConnectionId} threw.", EventName = "ClosedCallbackFailed")]
        public static partial void ClosedCallbackFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(120, LogLevel.Debug, "Connection {ConnectionId} broke the WebSocket protocol; it was closed with {CloseStatus}.", EventName = "ProtocolError")]
        public static partial void ProtocolError(ILogger logger, string connectionId, WebSocketCloseStatus closeStatus, Exception exception);

        [LoggerMessage(121, LogLevel.Information, "Connection {ConnectionId} ended ({Reason}) with {Count} queued messages it never sent; they are discarded.", EventName = "QueuedMessagesDiscarded")]
        public static partial void QueuedMessagesDiscarded(ILogger logger, string connectionId, int count, DisconnectReason reason);
    }
}

internal sealed partial class MessageHandler
{
    private static partial class Log
    {
        [LoggerMessage(50, LogLevel.Debug, "A message from connection {ConnectionId} could not be bound to {MessageType} ({Code}).", EventName = "MessageNotBound")]
        public static partial void MessageNotBound(ILogger logger, string connectionId, string messageType, string code);

        [LoggerMessage(51, LogLevel.Error, "The message handler failed for connection {ConnectionId}.", EventName = "HandlerFailed")]
        public static partial void HandlerFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(160, LogLevel.Debug, "The message handler of connection {ConnectionId} ended: the connection closed before the client replied to the handler's request.", EventName = "HandlerEndedByClose")]
        public static partial void HandlerEndedByClose(ILogger logger, string connectionId);
    }
}

internal sealed partial class WebSocketEndpoint
{
    private static partial class Log
    {
        [LoggerMessage(60, LogLevel.Debug, "Refused a WebSocket upgrade from origin '{Origin}'.", EventName = "OriginRefused")]
        public static partial void OriginRefused(ILogger logger, string origin);

        [LoggerMessage(61, LogLevel.Debug, "Refused a WebSocket upgrade: connection ID '{ConnectionId}' is already in use.", EventName = "DuplicateConnectionId")]
        public static partial void DuplicateId(ILogger logger, string connectionId);
    }
}
