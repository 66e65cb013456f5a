namespace WebSockets.Client;

/// <summary>Per-message options for the send methods of <see cref="SocketClient"/>.</summary>
public sealed class SocketClientSendOptions
{
    /// <summary>
    /// Gets an instance that fails the send with <see cref="SocketClientSendFailure.NotConnected"/> instead of buffering it
    /// when the client is not connected.
    /// </summary>
    public static SocketClientSendOptions FailIfNotConnected { get; } = new() { BufferWhenDisconnected = false };

    /// <summary>
    /// Gets or sets how long the message stays valid. A message still in the outbox after this time (counted from the
    /// send call) is dropped, logged and counted instead of being sent late. <see langword="null"/> uses
    /// <see cref="SocketClientOptions.MessageTimeToLive"/>. The default is <see langword="null"/>.
    /// </summary>
    public TimeSpan? TimeToLive { get; init; }

    /// <summary>
    /// Gets or sets whether a message sent while the client is not connected waits in the outbox (<see langword="true"/>)
    /// or fails at once with a <see cref="SocketClientSendException"/> (<see langword="false"/>). The default is
    /// <see langword="true"/>.
    /// </summary>
    public bool BufferWhenDisconnected { get; init; } = true;
}
