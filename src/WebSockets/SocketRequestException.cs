namespace WebSockets;

/// <summary>
/// Thrown by <see cref="ISocketConnection.RequestAsync{TReply}"/> when the client answers with an error reply, its
/// reply does not bind to the expected type, or the connection ends before it answers. An event handler throws it to
/// refuse a message on purpose: the client gets an error reply (or, for an event, an error notice) with its
/// <see cref="Code"/> and message, and no error is logged.
/// </summary>
public sealed class SocketRequestException : Exception
{
    /// <summary>Creates an exception.</summary>
    /// <param name="code">The error code, as in the protocol's error replies.</param>
    /// <param name="message">The error message.</param>
    public SocketRequestException(string code, string message)
        : base(message)
    {
        Code = code;
    }

    /// <summary>Creates an exception without a code.</summary>
    public SocketRequestException()
        : this("error", "The request failed.")
    {
    }

    /// <summary>Creates an exception without a code.</summary>
    /// <param name="message">The error message.</param>
    public SocketRequestException(string message)
        : this("error", message)
    {
    }

    /// <summary>Creates an exception without a code.</summary>
    /// <param name="message">The error message.</param>
    /// <param name="innerException">The cause.</param>
    public SocketRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = "error";
    }

    /// <summary>
    /// Gets the error code: the client's code for an error reply, <c>bad_data</c> for a reply that does not bind,
    /// <c>connection_closed</c> when the connection ended first.
    /// </summary>
    public string Code { get; }
}
