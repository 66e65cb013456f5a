namespace WebSockets;

/// <summary>
/// A message from a client that the server could not process, passed to the namespace's error hooks
/// (<see cref="SocketNamespaceBuilder.OnError"/>). The client has already been sent an error notice or error reply.
/// </summary>
public sealed class SocketEventError
{
    /// <summary>Creates an error description.</summary>
    /// <param name="code">The protocol error code, such as <c>unknown_event</c>.</param>
    /// <param name="message">What went wrong, in plain English.</param>
    /// <param name="eventName">The event the message named, if any.</param>
    /// <param name="requestId">The request ID, if the message was a request.</param>
    /// <param name="exception">The exception a handler threw, if any.</param>
    public SocketEventError(string code, string message, string? eventName = null, long? requestId = null, Exception? exception = null)
    {
        Code = code;
        Message = message;
        EventName = eventName;
        RequestId = requestId;
        Exception = exception;
    }

    /// <summary>Gets the error code sent to the client, for example <c>bad_json</c>, <c>unknown_event</c> or <c>handler_failed</c>.</summary>
    public string Code { get; }

    /// <summary>Gets a description of the error. It may hold exception details that the client was not sent.</summary>
    public string Message { get; }

    /// <summary>Gets the event the message named, or <see langword="null"/>.</summary>
    public string? EventName { get; }

    /// <summary>Gets the ID of the failed request, or <see langword="null"/> for an event.</summary>
    public long? RequestId { get; }

    /// <summary>Gets the exception thrown by a handler, or <see langword="null"/>.</summary>
    public Exception? Exception { get; }
}
