namespace WebSockets.Client;

/// <summary>The connection state of a <see cref="SocketClient"/>.</summary>
public enum SocketClientState
{
    /// <summary>Not connected: not started yet, stopped, or a connection ended and no reconnection follows (yet).</summary>
    Disconnected,

    /// <summary>A connection attempt (token, handshake) is in progress.</summary>
    Connecting,

    /// <summary>Connected: sends go out and the outbox has been flushed (or is being flushed, in order).</summary>
    Connected,

    /// <summary>Waiting out a back-off delay before the next connection attempt.</summary>
    Reconnecting,
}
