using WebSockets.Internal;

namespace WebSockets;

/// <summary>
/// A set of connections to send to: the live connections of a namespace, narrowed with <see cref="Where"/> and
/// <see cref="Except"/>. Get one from <see cref="ISocketRegistry.Namespace"/>. Every send serializes once and queues
/// the same bytes to each target.
/// </summary>
public readonly struct SocketAudience
{
    private readonly SocketRegistry? _registry;
    private readonly NamespaceState? _namespace;
    private readonly Func<ISocketConnection, bool>? _filter;
    private readonly string? _except;

    internal SocketAudience(SocketRegistry registry, NamespaceState? ns, Func<ISocketConnection, bool>? filter, string? except)
    {
        _registry = registry;
        _namespace = ns;
        _filter = filter;
        _except = except;
    }

    /// <summary>Narrows the audience to connections that match <paramref name="predicate"/>, such as a session item's value.</summary>
    /// <param name="predicate">The predicate, evaluated per connection at send time.</param>
    /// <returns>The narrowed audience.</returns>
    public SocketAudience Where(Func<ISocketConnection, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var previous = _filter;
        return new SocketAudience(_registry!, _namespace, previous is null ? predicate : c => previous(c) && predicate(c), _except);
    }

    /// <summary>Leaves out one connection, typically the sender.</summary>
    /// <param name="connectionId">The connection ID to leave out.</param>
    /// <returns>The narrowed audience.</returns>
    public SocketAudience Except(string connectionId)
    {
        ArgumentNullException.ThrowIfNull(connectionId);
        if (_except is null)
        {
            return new SocketAudience(_registry!, _namespace, _filter, connectionId);
        }

        return Where(c => !string.Equals(c.Id, connectionId, StringComparison.Ordinal));
    }

    /// <summary>Emits an event to every connection of the audience. For an event batched with UseBatch, the data joins each connection's batch.</summary>
    /// <typeparam name="T">The data type.</typeparam>
    /// <param name="eventName">The event name.</param>
    /// <param name="data">The event data, serialized once as JSON.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the event is queued to (or dropped for) every target.</returns>
    public ValueTask EmitAsync<T>(string eventName, T data, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        if (_namespace is null)
        {
            return default;
        }

        var options = _registry!.Options.JsonSerializerOptions;
        if (_namespace.Batches.TryGetValue(eventName, out var batch))
        {
            var item = EventMessage.Data(data, options);
            foreach (var (_, connection) in _namespace.Connections)
            {
                if (Includes(connection))
                {
                    connection.AddToBatch(eventName, batch, item);
                }
            }

            return default;
        }

        return SendAsync(EventMessage.Event(eventName, data, options), cancellationToken);
    }

    /// <summary>Emits an event without data (<c>"data":null</c>) to every connection of the audience.</summary>
    /// <param name="eventName">The event name.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the event is queued to (or dropped for) every target.</returns>
    public ValueTask EmitAsync(string eventName, CancellationToken cancellationToken = default)
        => EmitAsync<object?>(eventName, null, cancellationToken);

    /// <summary>Queues a raw message to every connection of the audience.</summary>
    /// <param name="message">The message; its payload is shared, not copied.</param>
    /// <param name="cancellationToken">Cancels waiting for queue room when <see cref="SendQueueFullMode.Wait"/> applies.</param>
    /// <returns>A task that completes when the message is queued to (or dropped for) every target.</returns>
    public ValueTask SendAsync(SocketMessage message, CancellationToken cancellationToken = default)
    {
        var pending = QueueAll(message, pending: null, cancellationToken);
        return pending is null ? default : new ValueTask(Task.WhenAll(pending));
    }

    /// <summary>Queues to each target; only sends that must wait for queue room add a task.</summary>
    internal List<Task>? QueueAll(SocketMessage message, List<Task>? pending, CancellationToken cancellationToken)
    {
        if (_namespace is null)
        {
            return pending;
        }

        foreach (var (_, connection) in _namespace.Connections)
        {
            if (!Includes(connection))
            {
                continue;
            }

            var sending = connection.SendAsync(message, cancellationToken);
            if (sending.IsCompletedSuccessfully)
            {
                // Consume the result so that a pooled IValueTaskSource can be reused.
                sending.GetAwaiter().GetResult();
            }
            else
            {
                (pending ??= []).Add(sending.AsTask());
            }
        }

        return pending;
    }

    private bool Includes(SocketConnection connection)
        => (_except is null || !string.Equals(connection.Id, _except, StringComparison.Ordinal))
            && (_filter is null || _filter(connection));
}
