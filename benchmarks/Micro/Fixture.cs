using System.Reflection;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Internal;

namespace WebSockets.Benchmarks.Micro;

/// <summary>A chat message, as a client would send it in <c>chat.send</c>.</summary>
public sealed record ChatMessage(string Room, string User, string Text, long SentAt);

/// <summary>A server tick, as a game or dashboard would broadcast it.</summary>
public sealed record Tick(long Sequence, double Value, string Source);

/// <summary>
/// A real registry built through DI with one namespace, "chat", the way an application registers it; plus the
/// internal pieces the benchmarks need (namespace state, dispatcher, unstarted connections).
/// </summary>
internal sealed class Fixture : IDisposable
{
    private static readonly FieldInfo s_queueField = typeof(SocketConnection).GetField("_queue", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new InvalidOperationException("SocketConnection._queue not found: the benchmark's reflection needs updating.");

    private readonly ServiceProvider _services;
    private int _nextId;

    public Fixture(int sendQueueCapacity = 256)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSocketRegistry(o => o.SendQueueCapacity = sendQueueCapacity)
            .AddNamespace("chat", ns => ns
                .On<ChatMessage>("chat.send", (socket, msg, ct) => Task.CompletedTask)
                .On("chat.echo", (ChatMessage msg) => msg));
        _services = services.BuildServiceProvider();
        Registry = _services.GetRequiredService<SocketRegistry>();
        if (!Registry.TryGetNamespace("chat", out var ns))
        {
            throw new InvalidOperationException("Namespace 'chat' is missing.");
        }

        Namespace = ns;
        Dispatcher = new EventDispatcher(ns, Registry, _services);
        Endpoint = new EndpointRuntime(new WebSocketEndpointOptions(), ns, Dispatcher);
    }

    public IServiceProvider Services => _services;

    public SocketRegistry Registry { get; }

    public NamespaceState Namespace { get; }

    public EventDispatcher Dispatcher { get; }

    public EndpointRuntime Endpoint { get; }

    /// <summary>A connection as the endpoint makes it, not started (no socket): its queue fills, nothing drains it.</summary>
    public SocketConnection CreateConnection()
        => new($"conn-{Interlocked.Increment(ref _nextId):D6}", new DefaultHttpContext(), null, Registry, Endpoint, Namespace);

    /// <summary>The read side of a connection's private send queue, which the write pump would drain.</summary>
    public static ChannelReader<SocketMessage> QueueReader(SocketConnection connection)
        => ((Channel<SocketMessage>)s_queueField.GetValue(connection)!).Reader;

    public void Dispose() => _services.Dispose();
}
