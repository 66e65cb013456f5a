namespace WebSockets.Client;

/// <summary>
/// Thrown by <see cref="SocketClient.RequestAsync{TReply}"/> when the server answers with an error reply, its reply
/// does not bind to the expected type, or the connection ends before the reply arrives. A handler registered with
/// <c>On</c> throws it to answer a server request with an error reply carrying its <see cref="Code"/> and message.
/// </summary>
public sealed class SocketClientRequestException : Exception
{
    /// <summary>The code used when the connection ended after the request was sent and before its reply arrived.</summary>
    public const string ConnectionClosedCode = "connection_closed";

    /// <summary>Creates an exception.</summary>
    /// <param name="code">The error code, as in the protocol's error replies (for example <c>not_allowed</c>).</param>
    /// <param name="message">The error message.</param>
    public SocketClientRequestException(string code, string message)
        : base(message)
    {
        Code = code;
    }

    /// <summary>Creates an exception with the code <c>error</c>.</summary>
    public SocketClientRequestException()
        : this("error", "The request failed.")
    {
    }

    /// <summary>Creates an exception with the code <c>error</c>.</summary>
    /// <param name="message">The error message.</param>
    public SocketClientRequestException(string message)
        : this("error", message)
    {
    }

    /// <summary>Creates an exception with the code <c>error</c>.</summary>
    /// <param name="message">The error message.</param>
    /// <param name="innerException">The cause.</param>
    public SocketClientRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = "error";
    }

    /// <summary>
    /// Gets the error code: the server's code for an error reply (such as <c>unknown_event</c> or <c>bad_data</c>),
    /// <c>bad_reply</c> for a reply that does not bind to the expected type, <see cref="ConnectionClosedCode"/> when the
    /// connection ended first.
    /// </summary>
    public string Code { get; }
}
