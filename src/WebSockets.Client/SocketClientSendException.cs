namespace WebSockets.Client;

/// <summary>Why a send of a <see cref="SocketClient"/> failed.</summary>
public enum SocketClientSendFailure
{
    /// <summary>The client is not connected and the message may not be buffered, or no reconnection will come.</summary>
    NotConnected,

    /// <summary>The client is not connected and its outbox holds <see cref="SocketClientOptions.OutboxCapacity"/> live messages.</summary>
    OutboxFull,

    /// <summary>The client was stopped or disposed.</summary>
    Stopped,
}

/// <summary>
/// Thrown when a message can neither be sent nor buffered. The message was not queued: nothing of it will be sent.
/// </summary>
public sealed class SocketClientSendException : Exception
{
    /// <summary>Creates an exception.</summary>
    /// <param name="failure">Why the send failed.</param>
    /// <param name="message">The error message.</param>
    public SocketClientSendException(SocketClientSendFailure failure, string message)
        : base(message)
    {
        Failure = failure;
    }

    /// <summary>Creates an exception for <see cref="SocketClientSendFailure.NotConnected"/>.</summary>
    public SocketClientSendException()
        : this(SocketClientSendFailure.NotConnected, "The WebSocket client is not connected.")
    {
    }

    /// <summary>Creates an exception for <see cref="SocketClientSendFailure.NotConnected"/>.</summary>
    /// <param name="message">The error message.</param>
    public SocketClientSendException(string message)
        : this(SocketClientSendFailure.NotConnected, message)
    {
    }

    /// <summary>Creates an exception for <see cref="SocketClientSendFailure.NotConnected"/>.</summary>
    /// <param name="message">The error message.</param>
    /// <param name="innerException">The cause.</param>
    public SocketClientSendException(string message, Exception innerException)
        : base(message, innerException)
    {
        Failure = SocketClientSendFailure.NotConnected;
    }

    /// <summary>Gets why the send failed.</summary>
    public SocketClientSendFailure Failure { get; }
}
