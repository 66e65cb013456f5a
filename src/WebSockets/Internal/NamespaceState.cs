using System.Collections.Concurrent;

namespace WebSockets.Internal;

/// <summary>A namespace at run time: its hooks and its live connections.</summary>
internal sealed class NamespaceState(SocketNamespaceBuilder builder)
{
    private int _count;

    public string Name { get; } = builder.Name;

    public Func<ISocketConnection, CancellationToken, Task>[] ConnectedHooks { get; } = [.. builder.ConnectedHooks];

    public Func<ISocketConnection, DisconnectReason, CancellationToken, Task>[] DisconnectedHooks { get; } = [.. builder.DisconnectedHooks];

    public ConcurrentDictionary<string, SocketConnection> Connections { get; } = new(StringComparer.Ordinal);

    public int Count => Volatile.Read(ref _count);

    public void Add(SocketConnection connection)
    {
        if (Connections.TryAdd(connection.Id, connection))
        {
            Interlocked.Increment(ref _count);
        }
    }

    public void Remove(SocketConnection connection)
    {
        if (Connections.TryRemove(new KeyValuePair<string, SocketConnection>(connection.Id, connection)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    public bool Contains(SocketConnection connection) => Connections.TryGetValue(connection.Id, out var found) && ReferenceEquals(found, connection);
}
