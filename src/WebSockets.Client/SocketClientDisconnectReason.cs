namespace WebSockets.Client;

/// <summary>Why a <see cref="SocketClient"/> became <see cref="SocketClientState.Disconnected"/>.</summary>
public enum SocketClientDisconnectReason
{
    /// <summary>The server sent a close frame (see <see cref="SocketClientStateChangedEventArgs.CloseStatus"/>; 1001 when it shuts down).</summary>
    ServerClosed,

    /// <summary>The connection broke without a close frame: reset, keep-alive timeout, or a failed send or receive.</summary>
    ConnectionLost,

    /// <summary>The application stopped or disposed the client.</summary>
    Stopped,

    /// <summary>A fail-fast connection attempt (<see cref="SocketClient.StartOrFailAsync"/>) failed.</summary>
    ConnectFailed,

    /// <summary>The server sent a message larger than <see cref="SocketClientOptions.MaxMessageSize"/>; the client closed with 1009.</summary>
    MessageTooBig,
}
