using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace WebSockets.Client;

// Event IDs are stable and never reused: the client uses 300-349.

public sealed partial class SocketClient
{
    private static partial class Log
    {
        [LoggerMessage(300, LogLevel.Debug, "WebSocket client '{Name}' connecting to {Uri} (attempt {Attempt}).", EventName = "Connecting")]
        public static partial void Connecting(ILogger logger, string name, Uri uri, int attempt);

        [LoggerMessage(301, LogLevel.Information, "WebSocket client '{Name}' connected to {Uri} (sub-protocol: {SubProtocol}).", EventName = "Connected")]
        public static partial void Connected(ILogger logger, string name, Uri uri, string? subProtocol);

        [LoggerMessage(302, LogLevel.Warning, "WebSocket client '{Name}' failed to connect to {Uri} (attempt {Attempt}); not retrying.", EventName = "ConnectFailed")]
        public static partial void ConnectFailed(ILogger logger, string name, Uri uri, int attempt, Exception exception);

        [LoggerMessage(303, LogLevel.Warning, "WebSocket client '{Name}' failed to connect to {Uri}; retry {Attempt} in {Delay}.", EventName = "AttemptFailed")]
        public static partial void AttemptFailed(ILogger logger, string name, Uri uri, int attempt, TimeSpan delay, Exception exception);

        [LoggerMessage(304, LogLevel.Warning, "WebSocket client '{Name}' disconnected: {Reason}, close status {CloseStatus}.", EventName = "Disconnected")]
        public static partial void Disconnected(ILogger logger, string name, SocketClientDisconnectReason reason, WebSocketCloseStatus? closeStatus, Exception? exception);

        [LoggerMessage(305, LogLevel.Warning, "WebSocket client '{Name}' dropped {Count} expired messages from its outbox instead of sending them late.", EventName = "MessagesExpired")]
        public static partial void MessagesExpired(ILogger logger, string name, int count);

        [LoggerMessage(306, LogLevel.Warning, "WebSocket client '{Name}' stopped with {Count} messages unsent in its outbox; they were dropped.", EventName = "MessagesDiscarded")]
        public static partial void MessagesDiscarded(ILogger logger, string name, int count);

        [LoggerMessage(307, LogLevel.Warning, "WebSocket client '{Name}' refused a message: its outbox of {Capacity} messages is full ({State}).", EventName = "OutboxFull")]
        public static partial void OutboxFull(ILogger logger, string name, int capacity, SocketClientState state);

        [LoggerMessage(308, LogLevel.Warning, "WebSocket client '{Name}' received a message that is not a protocol message ({Problem}); ignored.", EventName = "BadMessage")]
        public static partial void BadMessage(ILogger logger, string name, string problem);

        [LoggerMessage(309, LogLevel.Debug, "WebSocket client '{Name}' has no handler for event '{Event}'; ignored.", EventName = "EventUnhandled")]
        public static partial void EventUnhandled(ILogger logger, string name, string @event);

        [LoggerMessage(310, LogLevel.Debug, "WebSocket client '{Name}' has no handler for the server's request '{Event}' (id {Id}); answered unknown_event.", EventName = "UnknownServerRequest")]
        public static partial void UnknownServerRequest(ILogger logger, string name, string @event, long id);

        [LoggerMessage(311, LogLevel.Error, "A handler of WebSocket client '{Name}' for {Event} failed.", EventName = "HandlerFailed")]
        public static partial void HandlerFailed(ILogger logger, string name, string @event, Exception exception);

        [LoggerMessage(312, LogLevel.Warning, "WebSocket client '{Name}' got an error notice from the server: {Code}: {Message}", EventName = "ErrorNotice")]
        public static partial void ErrorNotice(ILogger logger, string name, string code, string message);

        [LoggerMessage(313, LogLevel.Debug, "WebSocket client '{Name}' got a reply to request {Id}, which is not awaited (it may have timed out).", EventName = "UnknownReply")]
        public static partial void UnknownReply(ILogger logger, string name, string id);

        [LoggerMessage(314, LogLevel.Warning, "WebSocket client '{Name}' received a message larger than {MaxMessageSize} bytes; closing with 1009.", EventName = "MessageTooBig")]
        public static partial void MessageTooBig(ILogger logger, string name, int maxMessageSize);

        [LoggerMessage(315, LogLevel.Error, "A StateChanged handler of WebSocket client '{Name}' threw on {State}.", EventName = "StateHandlerFailed")]
        public static partial void StateHandlerFailed(ILogger logger, string name, SocketClientState state, Exception exception);

        [LoggerMessage(316, LogLevel.Debug, "WebSocket client '{Name}' dropped a reply to a server request: the connection it came on has ended.", EventName = "StaleReply")]
        public static partial void StaleReply(ILogger logger, string name);

        [LoggerMessage(317, LogLevel.Debug, "WebSocket client '{Name}' failed {Count} pending requests: their connection closed.", EventName = "RequestsFailed")]
        public static partial void RequestsFailed(ILogger logger, string name, int count);

        [LoggerMessage(318, LogLevel.Debug, "WebSocket client '{Name}' did not finish closing within {CloseTimeout}; aborting.", EventName = "CloseTimedOut")]
        public static partial void CloseTimedOut(ILogger logger, string name, TimeSpan closeTimeout);

        [LoggerMessage(319, LogLevel.Debug, "WebSocket client '{Name}' failed to send; the message stays first in the outbox.", EventName = "SendFailed")]
        public static partial void SendFailed(ILogger logger, string name, Exception exception);

        [LoggerMessage(320, LogLevel.Debug, "WebSocket client '{Name}' has no message handler for a {Type} message of {Length} bytes; ignored.", EventName = "MessageUnhandled")]
        public static partial void MessageUnhandled(ILogger logger, string name, WebSocketMessageType type, int length);

        [LoggerMessage(321, LogLevel.Debug, "WebSocket client '{Name}' could not bind the data of event '{Event}': {Problem}", EventName = "DataNotBound")]
        public static partial void DataNotBound(ILogger logger, string name, string @event, string problem);

        [LoggerMessage(322, LogLevel.Critical, "The connection loop of WebSocket client '{Name}' failed unexpectedly; the client stays disconnected.", EventName = "LoopFailed")]
        public static partial void LoopFailed(ILogger logger, string name, Exception exception);

        [LoggerMessage(323, LogLevel.Warning, "WebSocket client '{Name}' will not reconnect; {Count} requests still in its outbox failed unsent.", EventName = "RequestsNotSent")]
        public static partial void RequestsNotSent(ILogger logger, string name, int count);

        [LoggerMessage(324, LogLevel.Warning, "WebSocket client '{Name}' is dropping received messages: {Capacity} already wait for its handlers (each is counted; server requests are answered client_busy).", EventName = "InboundFull")]
        public static partial void InboundFull(ILogger logger, string name, int capacity);
    }
}
