namespace WebSockets.Internal;

/// <summary>What a connection's read pump hands each complete message to.</summary>
internal interface IMessageDispatcher
{
    /// <summary>Handles one message. The payload is valid only until the returned task completes.</summary>
    ValueTask HandleAsync(SocketConnection connection, SocketMessage message, CancellationToken cancellationToken);
}
