namespace WebSockets.Client;

/// <summary>How a <see cref="SocketClient"/> reads the messages it receives.</summary>
public enum SocketClientProtocol
{
    /// <summary>
    /// The WebSockets event protocol (docs/protocol.md): text messages are JSON events, requests and replies routed to
    /// <see cref="SocketClient.On{T}(string, Func{T, CancellationToken, ValueTask})"/> handlers; binary messages go to
    /// <see cref="SocketClient.OnMessage"/>.
    /// </summary>
    Events,

    /// <summary>
    /// Plain text and binary messages: every message goes to <see cref="SocketClient.OnMessage"/> as it is.
    /// Events, requests and event handlers are not available.
    /// </summary>
    Raw,
}
