namespace WebSockets;

/// <summary>
/// Why a connection ended. Passed to the disconnect hooks of its namespace.
/// </summary>
public enum DisconnectReason
{
    /// <summary>The client sent a close frame. <see cref="ISocketConnection.CloseStatus"/> holds its code.</summary>
    ClientClosed,

    /// <summary>The connection ended without a close frame: a TCP reset, a dropped network, or no pong within the keep-alive timeout.</summary>
    ConnectionLost,

    /// <summary>The application closed or aborted the connection.</summary>
    ServerClosed,

    /// <summary>The host is shutting down; the connection was drained and closed with 1001 (going away).</summary>
    ServerShutdown,

    /// <summary>The connection's send queue was full and <see cref="SendQueueFullMode.Close"/> applies.</summary>
    SlowConsumer,

    /// <summary>The client sent a message larger than <see cref="WebSocketEndpointOptions.MaxMessageSize"/>; closed with 1009.</summary>
    MessageTooBig,

    /// <summary>No message arrived from the client within <see cref="WebSocketEndpointOptions.IdleTimeout"/>.</summary>
    IdleTimeout,

    /// <summary>A connect hook threw or did not finish within <see cref="WebSocketEndpointOptions.HandshakeTimeout"/>; closed with 1011.</summary>
    HookFailed,

    /// <summary>
    /// The authenticated identity expired (see <see cref="WebSocketEndpointOptions.CloseOnAuthenticationExpiration"/>)
    /// and no token refresh extended it; closed with 1008 (policy violation).
    /// </summary>
    AuthenticationExpired,

    /// <summary>
    /// The client sent messages faster than <see cref="WebSocketEndpointOptions.MessageRateLimit"/> allows and
    /// <see cref="MessageRateLimitMode.Close"/> applies; closed with 1008 (policy violation).
    /// </summary>
    RateLimited,

    /// <summary>
    /// The client broke the WebSocket protocol (RFC 6455): an unmasked frame, reserved bits or opcodes, a malformed
    /// control or close frame, a bad length, or invalid UTF-8 in a text message. Closed with 1002 (protocol error) or
    /// 1007 (invalid payload data); <see cref="ISocketConnection.CloseStatus"/> holds which.
    /// </summary>
    ProtocolError,
}
