using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Hardening;

/// <summary>One connection's end, as its namespace's disconnect hook saw it.</summary>
internal sealed record Ended(ISocketConnection Connection, DisconnectReason Reason, System.Net.WebSockets.WebSocketCloseStatus? CloseStatus);

/// <summary>Counts a namespace's hook calls per connection and lets a test await each end.</summary>
internal sealed class HookCounter
{
    // Only live connections are kept by ID (so that a churn test measures the library, not this counter); a disconnect
    // for an ID that is not live is a hook that ran twice (or without a connect).
    private readonly ConcurrentDictionary<string, byte> _live = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _disconnected = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _duplicates = new();
    private readonly Channel<ISocketConnection> _connectedQueue = Channel.CreateUnbounded<ISocketConnection>();
    private readonly Channel<Ended> _endedQueue = Channel.CreateUnbounded<Ended>();
    private int _totalConnected;
    private int _totalDisconnected;

    /// <summary>Whether connections and ends are also queued for <see cref="NextConnectedAsync"/>/<see cref="NextEndedAsync"/>,
    /// and each ended ID kept for <see cref="DisconnectedCount"/>.</summary>
    public bool Queue { get; init; } = true;

    public int TotalConnected => Volatile.Read(ref _totalConnected);

    public int TotalDisconnected => Volatile.Read(ref _totalDisconnected);

    /// <summary>Connections whose disconnect hook ran more than once, or without a connect (must stay empty).</summary>
    public IReadOnlyList<string> DisconnectedTwice => [.. _duplicates];

    /// <summary>Connections whose connect hook ran but whose disconnect hook did not (yet).</summary>
    public IReadOnlyList<string> NotDisconnected => [.. _live.Keys];

    public int DisconnectedCount(string id) => _disconnected.GetValueOrDefault(id);

    public void Attach(SocketNamespaceBuilder ns)
    {
        ns.OnConnected((connection, _) =>
        {
            if (!_live.TryAdd(connection.Id, 0))
            {
                _duplicates.Enqueue(connection.Id);
            }

            Interlocked.Increment(ref _totalConnected);
            if (Queue)
            {
                _connectedQueue.Writer.TryWrite(connection);
            }

            return Task.CompletedTask;
        });
        ns.OnDisconnected((connection, reason, cancellationToken) =>
        {
            if (!_live.TryRemove(connection.Id, out _))
            {
                _duplicates.Enqueue(connection.Id);
            }

            Interlocked.Increment(ref _totalDisconnected);
            if (Queue)
            {
                _disconnected.AddOrUpdate(connection.Id, 1, static (_, n) => n + 1);
                _endedQueue.Writer.TryWrite(new Ended(connection, reason, connection.CloseStatus));
            }

            return Task.CompletedTask;
        });
    }

    public Task<ISocketConnection> NextConnectedAsync() => _connectedQueue.Reader.ReadAsync().AsTask().DefaultTimeout();

    public Task<Ended> NextEndedAsync() => _endedQueue.Reader.ReadAsync().AsTask().DefaultTimeout();

    /// <summary>Waits until every connection that connected has had its disconnect hook run.</summary>
    public async Task AllEndedAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (TotalDisconnected < TotalConnected || NotDisconnected.Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{TotalConnected - TotalDisconnected} connections did not end within {timeout}.");
            await Task.Delay(20);
        }
    }
}

/// <summary>
/// A real Kestrel with the endpoints the hardening tests attack: a raw echo endpoint for the well-behaved probe
/// (namespace "default"), and in namespace "hostile" a raw echo endpoint and an event-protocol endpoint.
/// </summary>
internal static class HostileServer
{
    public const string Hostile = "hostile";

    public static Task<TestHost> StartAsync(
        HookCounter hooks,
        Action<SocketRegistryOptions>? options = null,
        Action<WebSocketEndpointOptions>? endpoint = null,
        Action<SocketNamespaceBuilder>? ns = null,
        Action<IServiceCollection>? services = null)
        => TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry(o => options?.Invoke(o)).AddNamespace(Hostile, n =>
                {
                    hooks.Attach(n);
                    n.On<JsonElement, int>("count", (socket, data, ct) => Task.FromResult(data.ValueKind == JsonValueKind.Array ? data.GetArrayLength() : -1));
                    n.On("ping", () => "pong");
                    ns?.Invoke(n);
                });
                services?.Invoke(s);
            },
            app =>
            {
                app.MapWebSocketEndpoint("/ws/echo", (string message) => message);
                app.MapWebSocketEndpoint("/ws/raw", (string message) => message, o =>
                {
                    o.Namespace = Hostile;
                    endpoint?.Invoke(o);
                });
                app.MapWebSocketEndpoint("/ws/events", Hostile, o => endpoint?.Invoke(o));
            });

    /// <summary>Asserts nothing of the hostile namespace is left in the registry: no connection, no room, no presence.</summary>
    public static async Task AssertNothingLeftAsync(TestHost host, int baseline)
    {
        Assert.Equal(0, host.Registry.GetCount(Hostile));
        Assert.Equal(baseline, host.Registry.Count);
        Assert.Empty(host.Registry.GetConnections(Hostile));
        var counts = await host.Registry.GetCountsAsync().DefaultTimeout();
        Assert.Empty(counts.Value.Rooms);
        Assert.False(counts.Value.Namespaces.ContainsKey(Hostile));
        Assert.Equal(baseline, host.RegistryInternal.BackplaneContext.GetLocalMembers().Count);
    }
}
