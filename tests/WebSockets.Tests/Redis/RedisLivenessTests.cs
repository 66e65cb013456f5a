using Microsoft.Extensions.Logging.Abstractions;
using WebSockets.Redis.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Redis;

/// <summary>The subscriber connection is checked for liveness like the command connection. Each test failed before its fix.</summary>
public sealed class RedisLivenessTests : IAsyncLifetime
{
    private const string Lobby = "lobby";

    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    /// <summary>In subscribed mode PING is answered ["pong", ""]: the answer goes to the PING, not to the push callback.</summary>
    [Fact]
    public async Task PingOnASubscribedConnection_IsAnsweredAsAReply_NotPushed()
    {
        var pushed = 0;
        await using var subscriber = _redis.CreateClient(
            "subscriber",
            async connection => (await connection.SendAsync(["SUBSCRIBE", "liveness-test"])).ThrowIfError(),
            _ =>
            {
                Interlocked.Increment(ref pushed);
                return default;
            });
        await subscriber.FirstConnected.DefaultTimeout();

        var pong = await subscriber.ExecuteAsync("PING").DefaultTimeout();
        Assert.Equal(["pong", ""], pong.AsArray().Select(r => r.AsString()));

        // A message published after the PING is still pushed (and the connection stays in step).
        await _redis.CommandAsync("PUBLISH", "liveness-test", "hello");
        await Poll.UntilAsync(() => Volatile.Read(ref pushed) == 1, "the published message to be pushed");
        Assert.True(subscriber.IsConnected);
    }

    /// <summary>
    /// Regression (review): only the command connection had a heartbeat timeout. A half-open subscriber socket (no FIN,
    /// no RST) lost every message from the other servers while the server still looked live.
    /// </summary>
    [Fact]
    public async Task AHalfOpenSubscriberConnection_IsDetected_ReSubscribed_AndDeliveryResumes()
    {
        await using var proxy = new FreezableProxy(_redis.Port);
        var prefix = RedisCluster.NewPrefix();
        void Fast(WebSockets.Redis.RedisBackplaneOptions o)
        {
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
            o.PresenceTtl = TimeSpan.FromSeconds(1);
        }

        // A's connections go through the proxy; B's go straight to Redis.
        await using var viaProxy = new RedisCluster(_redis, prefix, o =>
        {
            Fast(o);
            o.ConnectionFactory = proxy.ConnectAsync;
        });
        await using var direct = new RedisCluster(_redis, prefix, Fast);
        var a = await viaProxy.StartServerAsync();
        var b = await direct.StartServerAsync();
        var backplaneA = RedisCluster.Backplane(a);
        await using var onA = await ChatClient.ConnectAsync(a);
        await onA.JoinAsync(Lobby);

        await b.Registry.Rooms(Lobby).EmitAsync("said", "before").DefaultTimeout();
        Assert.Equal("before", (await onA.ReceiveEventAsync()).Data.GetString());

        // Several healthy heartbeats: the subscriber's PINGs are answered, nothing is dropped.
        await Poll.UntilAsync(() => proxy.Subscribers == 1, "A's subscriber to go through the proxy");
        // 8 PINGs take 1.6 s: a PING whose answer went astray would have timed out (after 1 s) by then.
        await Poll.UntilAsync(() => proxy.SubscriberPings >= 8, "8 PINGs on A's subscriber connection");
        Assert.Empty(a.Logs.WithEventName("RedisConnectionLost"));
        Assert.Empty(a.Logs.WithEventName("SubscriberPingTimedOut"));

        // The subscriber's socket goes half-open.
        Assert.Equal(1, proxy.FreezeSubscribers());
        await a.Logs.WaitForEventAsync("SubscriberPingTimedOut").DefaultTimeout();
        await Poll.UntilAsync(() => proxy.Subscribers == 2 && backplaneA.IsSubscribed, "A to subscribe again on a new connection");

        await b.Registry.Rooms(Lobby).EmitAsync("said", "after").DefaultTimeout();
        Assert.Equal("after", (await onA.ReceiveEventAsync()).Data.GetString());
    }
}
