using System.Net.WebSockets;

namespace WebSockets.Client;

/// <summary>
/// Describes a change of <see cref="SocketClient.State"/>, raised by <see cref="SocketClient.StateChanged"/>.
/// </summary>
public sealed class SocketClientStateChangedEventArgs : EventArgs
{
    internal SocketClientStateChangedEventArgs(
        SocketClientState state,
        int attempt = 0,
        TimeSpan delay = default,
        SocketClientDisconnectReason? reason = null,
        WebSocketCloseStatus? closeStatus = null,
        Exception? exception = null)
    {
        State = state;
        Attempt = attempt;
        Delay = delay;
        DisconnectReason = reason;
        CloseStatus = closeStatus;
        Exception = exception;
    }

    /// <summary>Gets the new state.</summary>
    public SocketClientState State { get; }

    /// <summary>
    /// Gets, for <see cref="SocketClientState.Reconnecting"/>, the number of the attempt about to be made after
    /// <see cref="Delay"/> (1 for the first retry); for <see cref="SocketClientState.Connecting"/>, the number of the
    /// attempt starting (0 for the first). Otherwise 0.
    /// </summary>
    public int Attempt { get; }

    /// <summary>Gets, for <see cref="SocketClientState.Reconnecting"/>, the back-off delay before the next attempt.</summary>
    public TimeSpan Delay { get; }

    /// <summary>Gets, for <see cref="SocketClientState.Disconnected"/>, why the client disconnected.</summary>
    public SocketClientDisconnectReason? DisconnectReason { get; }

    /// <summary>Gets the close status the server sent, when it sent one.</summary>
    public WebSocketCloseStatus? CloseStatus { get; }

    /// <summary>Gets the error that ended the connection or failed the attempt, if any.</summary>
    public Exception? Exception { get; }

    /// <inheritdoc />
    public override string ToString() => State switch
    {
        SocketClientState.Reconnecting => $"Reconnecting(attempt {Attempt}, delay {Delay})",
        SocketClientState.Disconnected => $"Disconnected({DisconnectReason})",
        _ => State.ToString(),
    };
}
