namespace WebSockets;

/// <summary>
/// What a send does when the connection's send queue is full, which happens when a client reads more slowly
/// than the server writes to it.
/// </summary>
public enum SendQueueFullMode
{
    /// <summary>
    /// The send waits until the queue has room. Nothing is lost, but the sender is slowed to the client's pace,
    /// and a broadcast completes only when every target has taken the message.
    /// </summary>
    Wait,

    /// <summary>The message being sent is discarded. Queued messages stay. Each drop is logged and counted.</summary>
    DropNewest,

    /// <summary>The oldest queued message is discarded to make room. Each drop is logged and counted.</summary>
    DropOldest,

    /// <summary>
    /// The connection is closed with 1008 (policy violation) without flushing its queue, and its disconnect hooks see
    /// <see cref="DisconnectReason.SlowConsumer"/>. The message is discarded. This is the default: one slow client
    /// never holds back the others.
    /// </summary>
    Close,
}
