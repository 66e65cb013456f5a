namespace WebSockets;

/// <summary>
/// What happens to a message that arrives when its connection has used up its
/// <see cref="WebSocketEndpointOptions.MessageRateLimit"/>.
/// </summary>
public enum MessageRateLimitMode
{
    /// <summary>
    /// The message is dropped without being handled, and the client gets the error <c>rate_limited</c>: an error reply for
    /// a request, an error notice otherwise. The connection stays open.
    /// </summary>
    Reject,

    /// <summary>
    /// The connection is closed with 1008 (policy violation) and <see cref="DisconnectReason.RateLimited"/>; the message
    /// is not handled.
    /// </summary>
    Close,
}
