namespace WebSockets.Client;

/// <summary>
/// The named WebSocket services registered with <c>AddWebSocketService</c>, like GoFr's <c>AddWSService</c> and
/// <c>WriteMessageToService</c>. A singleton: inject it anywhere. Each service is one <see cref="SocketClient"/> that
/// lives as long as the host.
/// </summary>
public interface IWebSocketServices
{
    /// <summary>Gets the names of the registered services.</summary>
    IReadOnlyCollection<string> Names { get; }

    /// <summary>Gets the client of a service, for events, requests, handlers and its state.</summary>
    /// <param name="name">The service name given to <c>AddWebSocketService</c>.</param>
    /// <exception cref="InvalidOperationException">No service has that name.</exception>
    SocketClient GetClient(string name);

    /// <summary>Sends a text message to a service. Completes once the message is in the client's outbox.</summary>
    /// <param name="name">The service name.</param>
    /// <param name="data">The text.</param>
    /// <param name="options">Per-message options (expiry, fail when not connected); <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token checked before queuing.</param>
    /// <exception cref="SocketClientSendException">The message can neither be sent nor buffered.</exception>
    ValueTask WriteMessageToServiceAsync(string name, string data, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Sends a binary message to a service (the array is not copied). Completes once the message is in the client's outbox.</summary>
    /// <param name="name">The service name.</param>
    /// <param name="data">The payload.</param>
    /// <param name="options">Per-message options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token checked before queuing.</param>
    /// <exception cref="SocketClientSendException">The message can neither be sent nor buffered.</exception>
    ValueTask WriteMessageToServiceAsync(string name, byte[] data, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Sends <paramref name="data"/> serialized as JSON in a text message to a service. Completes once the message is in the client's outbox.</summary>
    /// <typeparam name="T">The type to serialize.</typeparam>
    /// <param name="name">The service name.</param>
    /// <param name="data">The value.</param>
    /// <param name="options">Per-message options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">A token checked before queuing.</param>
    /// <exception cref="SocketClientSendException">The message can neither be sent nor buffered.</exception>
    ValueTask WriteMessageToServiceAsync<T>(string name, T data, SocketClientSendOptions? options = null, CancellationToken cancellationToken = default);
}
