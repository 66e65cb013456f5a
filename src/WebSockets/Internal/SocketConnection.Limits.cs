namespace WebSockets.Internal;

/// <summary>The per-connection limits: the connection-limit slot.</summary>
internal sealed partial class SocketConnection
{
    /// <summary>The connection-limit slot this connection holds, if any limit is set; released once the socket is done.</summary>
    internal ConnectionLimiter.ConnectionSlot? LimitSlot { get; init; }
}
