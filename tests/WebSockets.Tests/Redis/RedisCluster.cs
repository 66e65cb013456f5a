using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Redis;
using WebSockets.Redis.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Redis;

/// <summary>
/// Servers of one app on real Kestrel, joined through the Redis backplane, each with a <c>chat</c> namespace whose
/// requests join and leave rooms and set the public session item <c>name</c>.
/// </summary>
internal sealed class RedisCluster : IAsyncDisposable
{
    public const string Chat = "chat";
    public const string Path = "/ws/chat";

    private readonly List<TestHost> _hosts = [];

    public RedisCluster(RedisServer redis, string prefix, Action<RedisBackplaneOptions>? configure = null, Action<SocketRegistryOptions>? registry = null)
    {
        Redis = redis;
        Prefix = prefix;
        Configure = configure;
        ConfigureRegistry = registry;
    }

    public RedisServer Redis { get; }

    public string Prefix { get; }

    private Action<RedisBackplaneOptions>? Configure { get; }

    private Action<SocketRegistryOptions>? ConfigureRegistry { get; }

    public static string NewPrefix() => "test-" + Guid.NewGuid().ToString("N")[..8];

    public async Task<TestHost> StartServerAsync()
    {
        var host = await TestHost.StartAsync(
            services => services
                .AddSocketRegistry(o =>
                {
                    o.PublicSessionItems.Add("name");
                    ConfigureRegistry?.Invoke(o);
                })
                .AddNamespace(Chat, ns => ns
                    .On<string, string>("join", async (socket, room, ct) =>
                    {
                        await socket.JoinAsync(room);
                        return socket.Id;
                    })
                    .On<string, string>("leave", async (socket, room, ct) =>
                    {
                        await socket.LeaveAsync(room);
                        return socket.Id;
                    })
                    .On<string, string>("name", (socket, name, ct) =>
                    {
                        socket.Session.Set("name", name);
                        return Task.FromResult(socket.Id);
                    }))
                .AddRedisBackplane(Redis.Configuration, o =>
                {
                    o.ChannelPrefix = Prefix;
                    o.HeartbeatInterval = TimeSpan.FromMilliseconds(500);
                    o.PresenceTtl = TimeSpan.FromSeconds(5);
                    Configure?.Invoke(o);
                }),
            app => app.MapWebSocketEndpoint(Path, Chat));
        _hosts.Add(host);
        return host;
    }

    public static RedisSocketBackplane Backplane(TestHost host) => (RedisSocketBackplane)host.Services.GetRequiredService<SocketBackplane>();

    public static string ServerId(TestHost host) => host.RegistryInternal.ServerId;

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }
}

/// <summary>A client of the chat namespace: requests with replies, and events received in order.</summary>
internal sealed class ChatClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private int _nextId;

    private ChatClient(ClientWebSocket socket) => _socket = socket;

    public string Id { get; private set; } = string.Empty;

    public static async Task<ChatClient> ConnectAsync(TestHost host, string? name = null)
    {
        var client = new ChatClient(await host.ConnectAsync(RedisCluster.Path));
        client.Id = await client.RequestAsync("name", name ?? "anonymous");
        return client;
    }

    public Task JoinAsync(string room) => RequestAsync("join", room);

    public Task LeaveAsync(string room) => RequestAsync("leave", room);

    /// <summary>Sends a request and returns the reply's data (the connection ID); no event may come first.</summary>
    public async Task<string> RequestAsync(string eventName, string data)
    {
        var id = ++_nextId;
        await _socket.SendTextAsync(JsonSerializer.Serialize(new { @event = eventName, data, id }));
        var reply = (await _socket.ReceiveMessageAsync()).Json;
        Assert.Equal(id, reply.GetProperty("reply").GetInt32());
        return reply.GetProperty("data").GetString()!;
    }

    /// <summary>Receives the next event: its name and data.</summary>
    public async Task<(string Event, JsonElement Data)> ReceiveEventAsync()
    {
        var message = (await _socket.ReceiveMessageAsync()).Json;
        return (message.GetProperty("event").GetString()!, message.GetProperty("data").Clone());
    }

    public Task CloseAsync() => _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return default;
    }
}
